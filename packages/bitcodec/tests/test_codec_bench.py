"""The codec benchmark runs (quick) and returns the `bitlab bench` format. No timing asserts."""

from __future__ import annotations

import math

from bitcodec.bench_codec import codec_bench

ROW_KEYS = {"case", "metric", "value", "unit", "reference", "ratio", "target", "met"}


def test_quick_codec_bench_format() -> None:
    report = codec_bench(quick=True)
    assert report["name"] == "codec"
    assert report["notes"] and all(isinstance(n, str) for n in report["notes"])
    rows = report["rows"]
    assert len(rows) >= 7
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["value"] > 0 and row["reference"] > 0
        assert math.isclose(row["ratio"], row["value"] / row["reference"])
        if row["target"] is None:
            assert row["met"] is None
        else:
            target = float(row["target"].removeprefix(">= ").removesuffix("x"))
            assert row["met"] == (row["ratio"] >= target)
    metrics = " ".join(r["metric"] for r in rows)
    assert "unpackbits" in metrics and "packbits" in metrics and "seed" in metrics


def test_library_messages_name_no_command_line_flags() -> None:
    """bitcodec speaks in its own terms (``resume=True``); the CLI translates to flags."""
    import ast
    import re
    from pathlib import Path

    import bitcodec

    flag = re.compile(r"(?<![\w-])--[a-z]")
    offenders = []
    for path in Path(bitcodec.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and flag.search(text) and not path.name.startswith("bench_"):
                offenders.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert not offenders, offenders
