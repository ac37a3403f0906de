"""The frozen ``chit-agent-supervisor`` (Linux): starts ``current``'s agent, rolls back a bad one.

A folder of its own (dist/chit-agent-supervisor/), installed outside ``versions/`` by the
package (/opt/chit-agent/bin/), so a self-update never replaces it (agent/updates/supervisor.py).
"""

import sys

from agent.updates.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
