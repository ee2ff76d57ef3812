"""BitSwin: a hierarchical shifted-window transformer over bits with multi-task heads."""

__version__ = "0.2.0"

from bitswin.config import FORMAT_VERSION, ROUTERS, BitSwinConfig, LossWeights
from bitswin.errors import BitswinError
from bitswin.flops import (
    estimate_flops_per_byte,
    realised_flops_per_byte,
)
from bitswin.model import BitSwinModel, BitSwinOutput, BitSwinUnits

__all__ = [
    "FORMAT_VERSION",
    "ROUTERS",
    "BitSwinConfig",
    "BitSwinModel",
    "BitSwinOutput",
    "BitSwinUnits",
    "BitswinError",
    "LossWeights",
    "__version__",
    "estimate_flops_per_byte",
    "realised_flops_per_byte",
]
