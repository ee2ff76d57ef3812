"""Multi-level (bit, byte, word, phrase) masking, corruption and curriculum for bit-level masked language models.

>>> import torch
>>> from bitmask import MaskConfig, make_masks
>>> data = torch.tensor([list(b"hello world, hello bits")], dtype=torch.uint8)
>>> batch = make_masks(data, MaskConfig(), epoch=40, seed=1)
>>> batch.phase, batch.input_ids.shape
(4, torch.Size([1, 184]))
"""

from bittokens import BIT0, BIT1, BIT_VOCAB_SIZE, MASK_ID, PAD_ID

from bitmask.batch import IGNORE_INDEX, MaskedBatch
from bitmask.bits import bit_ids, bytes_to_bits
from bitmask.cohesion import bigram_pmi, join_scores
from bitmask.config import LEVELS, RATE_RANGES, CorruptionConfig, Level, MaskConfig
from bitmask.curriculum import PHASE_NAMES, Curriculum, CurriculumState
from bitmask.errors import BitmaskError
from bitmask.make import make_masks, window_levels
from bitmask.units import char_level_scores

__version__ = "0.3.0"

__all__ = [
    "BIT0",
    "BIT1",
    "BIT_VOCAB_SIZE",
    "IGNORE_INDEX",
    "LEVELS",
    "MASK_ID",
    "PAD_ID",
    "PHASE_NAMES",
    "RATE_RANGES",
    "BitmaskError",
    "CorruptionConfig",
    "Curriculum",
    "CurriculumState",
    "Level",
    "MaskConfig",
    "MaskedBatch",
    "__version__",
    "bigram_pmi",
    "bit_ids",
    "bytes_to_bits",
    "char_level_scores",
    "join_scores",
    "make_masks",
    "window_levels",
]
