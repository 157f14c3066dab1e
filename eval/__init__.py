"""The evaluation program: `python -m eval ...` reads checkpoints only, never writes them."""
