"""Model input ids per bit position: the one small vocabulary every bitlab package shares.

Imports nothing (not even the standard library), so that a model package (bitswin) can have
the ids without numba, zarr or numpy; ``bitcodec.tokens`` re-exports these names.
"""

__version__ = "0.1.0"

BIT0 = 0  # the bit is 0
BIT1 = 1  # the bit is 1
MASK_ID = 2  # the bit is hidden from the model
PAD_ID = 3  # padding: a byte whose 8 ids are all PAD_ID is not part of the text
BIT_VOCAB_SIZE = 4

__all__ = ["BIT0", "BIT1", "BIT_VOCAB_SIZE", "MASK_ID", "PAD_ID", "__version__"]
