"""Model input ids per bit position: re-exported from ``bittokens`` (their one home), so that
``from bittokens import MASK_ID`` keeps working.

Imports only bittokens, so that torch-side code can use it without numba or zarr.
"""

from bittokens import BIT0, BIT1, BIT_VOCAB_SIZE, MASK_ID, PAD_ID

__all__ = ["BIT0", "BIT1", "BIT_VOCAB_SIZE", "MASK_ID", "PAD_ID"]
