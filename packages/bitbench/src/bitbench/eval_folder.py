"""Where ``bitlab eval`` may write: a new folder, one without any of the files it writes, or one
an earlier ``bitlab eval`` wrote (its metrics.json says so). A folder holding someone else's
files of the same names is refused, before anything is measured, and left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from bitbench.errors import BitbenchError
from bitbench.out_dir import out_directory

# The model card's name in the eval folder, when the model folder's README.md is not bitlab's.
CARD_FILE = "model_card.md"
# Every file an evaluation may write into its folder (evaluate.write_outputs, the card).
EVAL_FILES = ("metrics.json", "report.md", "accuracy_over_training.png", "boundary_view.png",
              "table_rank_frequency.png", CARD_FILE)  # fmt: skip


def is_eval_metrics(path: Path) -> bool:
    """Whether ``path`` is a metrics.json that ``write_outputs`` wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"version", "settings", "run", "kind"} <= set(data)


def check_out_dir(out_dir: str | Path) -> None:
    """One line unless ``out_dir`` may be written: new, without any of the files an evaluation
    writes (EVAL_FILES), or an earlier evaluation's folder (its metrics.json is bitlab's)."""
    out = out_directory(out_dir, create=False)
    clashes = [n for n in EVAL_FILES if (out / n).exists()]
    if clashes and not is_eval_metrics(out / "metrics.json"):
        raise BitbenchError(
            f"--out '{out}' holds {', '.join(clashes)} that bitlab eval did not write: they are "
            "left as they are; choose a new or empty folder with --out"
        )
