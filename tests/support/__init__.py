"""Test helpers shared across the suite: the tiny model and its training
config, hostile files, a threaded communicator, the CUDA compile check."""
