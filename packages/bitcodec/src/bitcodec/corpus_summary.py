"""What a corpus store holds, as a writer reports it, and the check of a finished store
against a repeated run (``complete_store_summary``: a rerun with the same inputs is a no-op)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bitcodec.corpus_format import FORMAT_NAME, SPLITS
from bitcodec.corpus_paths import store_attrs
from bitcodec.corpus_settings import settings_difference
from bitcodec.errors import BitcodecError


@dataclass
class CorpusSummary:
    """What a finished (or running) writer has stored."""

    path: str
    docs: dict[str, int]
    bytes: dict[str, int]
    duplicates_removed: int
    sources: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def num_docs(self) -> int:
        return sum(self.docs.values())

    @property
    def num_bytes(self) -> int:
        return sum(self.bytes.values())

    def describe(self) -> str:
        """One short line for logs, whatever the number of inputs (their list is the store's
        manifest: ``sources``, ``skipped``)."""
        splits = " / ".join(f"{name} {count:,}" for name, count in self.docs.items())
        skipped = f", {len(self.skipped):,} skipped" if self.skipped else ""
        inputs = f"{len(self.sources):,} input{'' if len(self.sources) == 1 else 's'}"
        return (
            f"{self.num_docs:,} documents ({splits}), {self.num_bytes:,} bytes, from {inputs}"
            f"{skipped}; {self.duplicates_removed:,} duplicates removed"
        )


def complete_store_summary(
    out: str | os.PathLike[str],
    settings: dict[str, Any],
    sources: list[dict[str, Any]] | None = None,
) -> CorpusSummary:
    """The summary of the finished store at ``out`` when it was made with ``settings`` (as
    ``CorpusWriter.settings()`` gives them) from ``sources``; BitcodecError naming what
    differs otherwise. Nothing is written: a repeated run with the same inputs is a no-op."""
    path = Path(out)
    attrs = store_attrs(path) or {}
    if attrs.get("format") != FORMAT_NAME:
        raise BitcodecError(f"'{path}' is not a finished corpus store", "check the path")
    if "settings" not in attrs:
        raise BitcodecError(
            f"corpus store '{path}' does not record how it was made (written by an older "
            "bitcodec), so a rerun cannot be checked against it",
            "pass overwrite=True to build it again",
        )
    then_inputs = list(attrs.get("sources", [])) + list(attrs.get("skipped", []))
    if attrs.get("sources_total", 0) > len(attrs.get("sources", [])):
        then_inputs = None  # the manifest was cut: only the digest can tell
    why = settings_difference(attrs["settings"], settings, then_inputs, sources)
    if why is not None:
        raise BitcodecError(
            f"corpus store '{path}' is complete but was made differently: {why}",
            "pass overwrite=True to build it again, or rerun with the same inputs and options",
        )
    counts = attrs.get("counts", {})
    return CorpusSummary(
        path=str(path),
        docs={s: int(counts.get(s, {}).get("docs", 0)) for s in SPLITS},
        bytes={s: int(counts.get(s, {}).get("bytes", 0)) for s in SPLITS},
        duplicates_removed=int(attrs.get("stats", {}).get("duplicates_removed", 0)),
        sources=list(attrs.get("sources", [])),
        skipped=list(attrs.get("skipped", [])),
    )
