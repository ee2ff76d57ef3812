"""The training loop and its components: config, launcher, worker, loop, checkpoints, schedule,
validation, FLOP meter, metrics log, progress (the public entry points are re-exported by
:mod:`bittrain`)."""
