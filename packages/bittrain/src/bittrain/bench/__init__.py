"""`bitlab bench train`: training speed per model kind against the machine's own matmul rate,
the time of a step by stage, peak memory (:mod:`.train_bench`); the cases and the training step
it times (:mod:`.cases`, shared with ``make gpu-check``), the matmul reference and the rounds
(:mod:`.timing`), the stage split (:mod:`.stages`)."""

from bittrain.bench.train_bench import train_bench

__all__ = ["train_bench"]
