"""Hub services: the logic behind gateways and REST routes."""
