"""``python -m bittrain ...``: the same as ``python -m bittrain.train ...``."""

import sys

from bittrain.train import main

if __name__ == "__main__":
    sys.exit(main())
