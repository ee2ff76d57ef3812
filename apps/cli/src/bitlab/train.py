"""``python -m bitlab.train ...`` (e.g. under ``torchrun``): the same as ``bitlab train ...``.

Under torchrun the environment (RANK, WORLD_SIZE, MASTER_ADDR) names this worker's place, and
the trainer joins that process group instead of launching workers itself.
"""

from __future__ import annotations

import sys

from bitlab.main import invoke


def main() -> None:
    sys.exit(invoke(["train", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
