"""Browser tests of the manager UI and checks of its served assets."""
