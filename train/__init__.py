"""The training program: `python -m train --config train/configs/NAME.py --workdir DIR`."""
