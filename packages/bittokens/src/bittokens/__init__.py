"""What every bitlab package shares: the model input ids per bit position (one small
vocabulary) and the default mean length of a learned unit.

Imports nothing (not even the standard library), so that a model package (bitswin) can have
the ids without numba, zarr or numpy; ``bitcodec.tokens`` re-exports the ids.
"""

__version__ = "0.1.0"

BIT0 = 0  # the bit is 0
BIT1 = 1  # the bit is 1
MASK_ID = 2  # the bit is hidden from the model
PAD_ID = 3  # padding: a byte whose 8 ids are all PAD_ID is not part of the text
BIT_VOCAB_SIZE = 4

# Bytes per word-like unit that learned units aim at unless a config says otherwise (the masks'
# units, the router's ratio target, the encoding table's cut, segmentation): about an English
# word with its space (SpaceByte's and H-Net's choice).
DEFAULT_UNIT_BYTES = 5.0

__all__ = [
    "BIT0",
    "BIT1",
    "BIT_VOCAB_SIZE",
    "DEFAULT_UNIT_BYTES",
    "MASK_ID",
    "PAD_ID",
    "__version__",
]
