"""Checkpoints: the on-disk layout (files), live state <-> tensors (state), the cadence (checkpointer)."""
