"""The frozen ``chit-agent-service.exe`` (Windows): the agent's core as a Windows service."""

import sys

from agent.winservice import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
