"""The corpus store's on-disk format (Zarr v3): names, version, split rule, validation.

Layout of a store ``STORE/``::

    zarr.json            root group; attributes below
    train/bytes          uint8 [N_train]      all train documents concatenated (zstd)
    train/offsets        int64 [D_train + 1]  document i is bytes[offsets[i]:offsets[i+1]]
    val/bytes, val/offsets   the same for the validation split

Root attributes: ``format`` ("bitlab-corpus"), ``format_version``, ``store_id`` (random, set at
creation; with the store's place, names its window cache), ``val_fraction``, ``split_rule``, ``counts`` (per split:
docs, bytes), ``sources`` (the manifest), ``options`` (how it was made), ``stats``.

Split rule: a document goes to ``val`` when the first 8 bytes of its BLAKE2b-128 digest, read as
a little-endian unsigned integer, are below ``val_fraction * 2**64``. The same digest is the
identity used for exact-duplicate removal. Both depend on the document's bytes only, so the
split of a document never depends on where it sits in the input or how many workers read it.
"""

from __future__ import annotations

import hashlib
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

import numpy as np

from bitcodec.errors import BitcodecError

FORMAT_NAME = "bitlab-corpus"
FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "val")
SPLIT_RULE = "blake2b-128(doc)[:8] as little-endian uint64 < val_fraction * 2**64 -> val"

DIGEST_SIZE = 16  # bytes of BLAKE2b per document (split value + duplicate identity)
DEFAULT_CHUNK_BYTES = 8 << 20  # uint8 chunk of the `bytes` arrays (DESIGN.md: 4-16 MiB)
DEFAULT_OFFSETS_CHUNK = 1 << 20  # int64 entries per chunk of the `offsets` arrays (8 MiB)
DEFAULT_ZSTD_LEVEL = 1  # ~2x the speed of level 3 for ~15% more disk (DESIGN: >= 100 MB/s)


def doc_digest(doc: bytes) -> bytes:
    """BLAKE2b-128 of a document: the split value and the duplicate identity."""
    return hashlib.blake2b(doc, digest_size=DIGEST_SIZE).digest()


def digests_of(docs: list[bytes]) -> bytes:
    """The digests of ``docs`` concatenated (16 bytes each)."""
    return b"".join(hashlib.blake2b(d, digest_size=DIGEST_SIZE).digest() for d in docs)


def val_threshold(val_fraction: float) -> int:
    """The uint64 threshold below which a document's split value sends it to ``val``."""
    if not 0.0 <= val_fraction < 1.0:
        raise BitcodecError(
            f"val_fraction {val_fraction!r} is outside [0, 1): pass a fraction such as 0.01"
        )
    return min(int(val_fraction * 2.0**64), 2**64 - 1)


def split_values(digests: bytes) -> np.ndarray:
    """uint64 [D]: the split value of each document (given their concatenated digests)."""
    return np.frombuffer(digests, dtype="<u8").reshape(-1, 2)[:, 0]


def is_val_mask(digests: bytes, val_fraction: float) -> np.ndarray:
    """bool [D]: which documents (given their concatenated digests) belong to ``val``."""
    return split_values(digests) < np.uint64(val_threshold(val_fraction))


def _fraction_between(lowest: int, highest: int, up: bool) -> float | None:
    """The shortest decimal fraction f with ``lowest < f * 2**64 <= highest`` (as the split rule
    reads it: ``val_threshold``), nearest ``lowest`` (``up``) or ``highest``; None if none."""
    exact = Decimal(lowest if up else highest) / Decimal(2**64)  # 28 digits: exact enough
    for digits in range(1, 20):
        context = Context(prec=digits, rounding=ROUND_CEILING if up else ROUND_FLOOR)
        f = float(context.create_decimal(exact))
        for _ in range(3):  # the nearest double may lie just outside: step inwards
            if not 0.0 < f < 1.0:
                break
            threshold = val_threshold(f)
            if lowest < threshold <= highest:
                return f
            if (threshold <= lowest) != up:
                break  # too far the other way: more digits are needed
            f = math.nextafter(f, 1.0 if up else 0.0)
    return None


def check_split_sizes(
    where: str, docs: dict[str, int], val_fraction: float, values: tuple[int, int] | None
) -> None:
    """Raise BitcodecError when ``val_fraction > 0`` left a split without documents (a small
    corpus under the default 0.01, say); ``values``: the (lowest, highest) split value among the
    documents, from which a fraction that gives both splits documents is suggested.

    Documents are never moved to fill a split: the split of a document depends on its bytes
    alone (the rule above), so a store, its resume and a rerun always agree."""
    if val_fraction <= 0.0 or (docs["train"] and docs["val"]):
        return
    total = docs["train"] + docs["val"]
    empty = "val" if not docs["val"] else "train"
    full = "train" if empty == "val" else "val"
    if total == 1:
        why = f"its one document goes to {full} under val_fraction={val_fraction:g}"
    else:
        some = "none" if empty == "val" else "all"
        why = f"val_fraction={val_fraction:g} sends {some} of its {total:,} documents to val"
    problem = f"the {empty} split of '{where}' would be empty: {why}"
    lowest, highest = values if values is not None else (None, None)
    suggest = None
    if total >= 2 and lowest is not None and highest is not None:
        suggest = _fraction_between(lowest, highest, up=empty == "val")
    if suggest is not None:
        which = "smallest" if empty == "val" else "largest"
        fix = f"pass val_fraction={suggest} (about the {which} that gives both splits documents)"
    elif total < 2:
        fix = (
            "one document cannot fill two splits: add documents, or cut the input into several "
            "(split_on='blank-line' or split_on='line')"
        )
    else:
        fix = f"pass a {'larger' if empty == 'val' else 'smaller'} val_fraction, or add documents"
    raise BitcodecError(problem, fix)


def split_of(doc: bytes, val_fraction: float) -> str:
    """``"val"`` or ``"train"`` for one document (the rule above)."""
    value = int.from_bytes(doc_digest(doc)[:8], "little")
    return "val" if value < val_threshold(val_fraction) else "train"


def check_root_attrs(attrs: dict, where: str) -> None:
    """Raise BitcodecError unless ``attrs`` are those of a corpus store this code reads."""
    if attrs.get("format") == FORMAT_NAME + "-partial":
        raise BitcodecError(
            f"'{where}' is an unfinished corpus store (its prepare-corpus run did not finish)",
            "rerun that prepare-corpus with resume=True",
        )
    if attrs.get("format") != FORMAT_NAME:
        raise BitcodecError(
            f"'{where}' is not a bitlab corpus store (no format '{FORMAT_NAME}' attribute)",
            "create one with prepare-corpus",
        )
    version = attrs.get("format_version")
    if version != FORMAT_VERSION:
        raise BitcodecError(
            f"corpus store '{where}' has format version {version}, this bitcodec reads "
            f"{FORMAT_VERSION}",
            "re-create it with prepare-corpus",
        )
