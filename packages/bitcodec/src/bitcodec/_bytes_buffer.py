"""A new ``bytes`` object that a kernel fills in place (no copy out of a numpy array).

``bits_to_bytes`` returns ``bytes``; building them from a numpy result (``out.tobytes()``)
copies the output into freshly allocated memory, and the page faults of that copy cost more
than the kernel itself (measured: 0.45x ``numpy.packbits`` at 1-64 MiB, against 1.6x for the
kernel alone). On CPython a bytes object of ``n`` bytes can be allocated uninitialised
(``PyBytes_FromStringAndSize(NULL, n)``) and filled before anyone else sees it, which is what C
extensions do; large ones are marked for transparent huge pages first (as numpy does for its
own large arrays), so that faulting them in costs a few hundred faults, not hundreds of
thousands. Elsewhere, and for small sizes, the plain numpy path is used.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

MIN_BYTES = 1 << 12  # below this the ctypes calls cost more than the copy they save
_HUGE = 2 << 20
_MADV_HUGEPAGE = 14
_MIN_HUGE = 4 << 20

_CPYTHON = sys.implementation.name == "cpython"
if _CPYTHON:
    _new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
    _new_bytes.restype = ctypes.py_object
    _new_bytes.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
    _DATA_OFFSET = bytes.__basicsize__ - 1  # where ob_sval starts in a PyBytesObject
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _madvise = _libc.madvise
    _madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _madvise = None


def new_bytes(n: int) -> tuple[bytes | None, np.ndarray]:
    """(bytes object, writable uint8 [n] view of its contents), or (None, a numpy array) where
    the in-place path is not available: the caller then returns ``array.tobytes()``."""
    if not _CPYTHON or n < MIN_BYTES:
        return None, np.empty(n, dtype=np.uint8)
    obj = _new_bytes(None, n)
    addr = id(obj) + _DATA_OFFSET
    if _madvise is not None and n >= _MIN_HUGE and sys.platform.startswith("linux"):
        start = (addr + _HUGE - 1) // _HUGE * _HUGE
        stop = (addr + n) // _HUGE * _HUGE
        if stop > start:
            _madvise(start, stop - start, _MADV_HUGEPAGE)  # advice only: errors do not matter
    view = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(addr))
    return obj, view
