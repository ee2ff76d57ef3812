"""How a store was made, and what differs when a run is repeated or resumed with other settings.

A writer's settings (val_fraction, dedup, chunking and the caller's ``options``, which for
prepare-corpus hold a digest of the inputs) go into the progress file of an unfinished store
and into the attributes of a finished one. ``settings_difference`` compares two of them and
names the first setting that differs; for the inputs it names the files that changed, appeared
or disappeared (from the manifests: path, size, modification time).
"""

from __future__ import annotations

import json
from typing import Any

INPUTS_KEY = "inputs"


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    options = settings.get("options", {}) or {}
    return {**{k: v for k, v in settings.items() if k != "options"}, **options}


def _ident(entry: dict[str, Any]) -> tuple[Any, Any]:
    return entry.get("size"), entry.get("mtime_ns")


def _names(paths: list[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def input_changes(then: list[dict[str, Any]], now: list[dict[str, Any]]) -> str:
    """Which input files differ between two manifests (path, size, mtime_ns per file)."""
    old = {e["path"]: e for e in then if "path" in e}
    new = {e["path"]: e for e in now if "path" in e}
    changed = []
    for path, entry in new.items():
        if path in old and _ident(old[path]) != _ident(entry):
            was, is_ = old[path].get("size"), entry.get("size")
            changed.append(f"{path} (size {was} -> {is_})" if was != is_ else f"{path} (modified)")
    added = [p for p in new if p not in old]
    removed = [p for p in old if p not in new]
    parts = []
    if changed:
        parts.append(f"changed: {_names(changed)}")
    if added:
        parts.append(f"new: {_names(added)}")
    if removed:
        parts.append(f"gone: {_names(removed)}")
    if not parts:
        return "the input files changed (their order or formats)"
    return "the input files changed (" + "; ".join(parts) + ")"


def settings_difference(
    then: dict[str, Any],
    now: dict[str, Any],
    then_inputs: list[dict[str, Any]] | None = None,
    now_inputs: list[dict[str, Any]] | None = None,
) -> str | None:
    """None when ``then`` and ``now`` agree, else what differs (the inputs last)."""
    a, b = _flat(json.loads(json.dumps(then))), _flat(json.loads(json.dumps(now)))
    for key in sorted(set(a) | set(b), key=lambda k: (k == INPUTS_KEY, k)):
        if a.get(key) == b.get(key):
            continue
        if key == INPUTS_KEY:
            if then_inputs is not None and now_inputs is not None:
                return input_changes(then_inputs, now_inputs)
            return "the input files changed (names, sizes or times)"
        return f"{key} was {a.get(key)!r}, now {b.get(key)!r}"
    return None
