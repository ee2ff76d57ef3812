"""BitSwin: a hierarchical shifted-window transformer over bits with multi-task heads."""

__version__ = "0.1.0"

from bitswin.config import BitSwinConfig, LossWeights
from bitswin.errors import BitswinError
from bitswin.flops import estimate_flops_per_byte
from bitswin.model import BitSwinModel, BitSwinOutput

__all__ = [
    "BitSwinConfig",
    "BitSwinModel",
    "BitSwinOutput",
    "BitswinError",
    "LossWeights",
    "__version__",
    "estimate_flops_per_byte",
]
