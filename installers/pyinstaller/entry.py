"""The frozen ``chit-agent`` executable: the same command line as the installed package."""

import multiprocessing
import sys

from agent.entry import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
