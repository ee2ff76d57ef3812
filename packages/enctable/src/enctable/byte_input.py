"""What the table accepts as bytes, and the one check of it."""

from __future__ import annotations

import numpy as np

from enctable.errors import EnctableError

BytesLike = bytes | bytearray | memoryview | np.ndarray


def as_uint8(data: BytesLike, what: str = "data") -> np.ndarray:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise EnctableError(
                f"{what} is a {data.dtype} array of shape {data.shape}: pass bytes or a 1-D uint8 array"
            )
        return np.ascontiguousarray(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    raise EnctableError(f"{what} is a {type(data).__name__}: pass bytes (e.g. text.encode())")
