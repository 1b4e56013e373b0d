"""Start the studio app on http://127.0.0.1:7860 (see `studio app --help` for options)."""

import sys

from studio.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
