"""Adaptive multi-level encoding table grown from a model's unit boundaries; lossless encode/decode.

from enctable import AdaptiveEncodingTable
table = AdaptiveEncodingTable(levels=4, max_size=10000)
table.update_tables(byte_batch, boundary_scores)      # uint8 [B, L], float [B, L]
codes = table.encode(b"hello world", level=2)
assert table.decode(codes, level=2) == b"hello world"
"""

from enctable.config import TableConfig
from enctable.errors import EnctableError
from enctable.table import AdaptiveEncodingTable

__version__ = "0.1.0"

__all__ = ["AdaptiveEncodingTable", "EnctableError", "TableConfig", "__version__"]
