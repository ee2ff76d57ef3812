"""Model input ids per bit position: one small vocabulary shared by every package.

Imports nothing, so that torch-side code (bitswin) can use it without numba or zarr.
"""

BIT0 = 0  # the bit is 0
BIT1 = 1  # the bit is 1
MASK_ID = 2  # the bit is hidden from the model
PAD_ID = 3  # padding: a byte whose 8 ids are all PAD_ID is not part of the text
BIT_VOCAB_SIZE = 4

__all__ = ["BIT0", "BIT1", "BIT_VOCAB_SIZE", "MASK_ID", "PAD_ID"]
