"""Multi-level (bit, byte, word, phrase) masking, corruption and curriculum for bit-level masked language models."""

__version__ = "0.1.0"
