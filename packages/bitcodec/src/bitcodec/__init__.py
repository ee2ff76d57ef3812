"""Bit-level codec for UTF-8 text (Numba kernels), per-byte UTF-8 facts, and a Zarr v3 corpus store."""

from bittokens import BIT0, BIT1, BIT_VOCAB_SIZE, MASK_ID, PAD_ID

from bitcodec import facts, tokens
from bitcodec.codec import (
    batch_bits_to_bytes,
    batch_bytes_to_bits,
    bits_to_bytes,
    bits_to_text,
    bytes_to_bits,
    text_to_bits,
)
from bitcodec.corpus_reader import Corpus, CorpusSplit, open_corpus
from bitcodec.corpus_writer import CorpusSummary, CorpusWriter
from bitcodec.errors import BitcodecError
from bitcodec.facts import (
    NUM_CHAR_CLASSES,
    NUM_UTF8_ROLES,
    CharClass,
    Utf8Role,
    char_classes,
    char_starts,
    class_change_starts,
    codepoint_class_table,
    utf8_roles,
    word_starts,
)

__version__ = "0.1.0"

__all__ = [
    "BIT0",
    "BIT1",
    "BIT_VOCAB_SIZE",
    "MASK_ID",
    "NUM_CHAR_CLASSES",
    "NUM_UTF8_ROLES",
    "PAD_ID",
    "BitcodecError",
    "CharClass",
    "Corpus",
    "CorpusSplit",
    "CorpusSummary",
    "CorpusWriter",
    "Utf8Role",
    "__version__",
    "batch_bits_to_bytes",
    "batch_bytes_to_bits",
    "bits_to_bytes",
    "bits_to_text",
    "bytes_to_bits",
    "char_classes",
    "char_starts",
    "class_change_starts",
    "codepoint_class_table",
    "facts",
    "open_corpus",
    "text_to_bits",
    "tokens",
    "utf8_roles",
    "word_starts",
]
