"""Data augmentation: random shifts against none (AlexNet §4.1; LeNet-5 on digits).

    python -m train --study train/studies/data_augmentation.py --workdir runs/data_augmentation
    python -m eval study runs/data_augmentation

Claim: label-preserving translations enlarge a small training set and cut the test
error (Krizhevsky et al. 2012 §4.1; LeCun et al. 1998 §III-C's distortions). Expected:
±2-pixel random crops of the 4× upsampled 8×8 digits beat no augmentation by about
2 points of test top-1 (the default config's docstring: 99.3 % against 97.3 %, seed 0).

Setup: the default job (LeNet-5, scikit-learn's 1,347 training digits, 30 epochs of
Adam), `crop_padding` 2 against 0, seeds 0, 1, 2; a GPU needs no other variant: the
study is the paper's own scale of dataset. Time on a 2-core CPU: about 2 min 30 s
(6 runs of ~25 s).
"""
from train.configs import default

get_config = default.get_config

VARIANTS = (
    ("crop", {}),
    ("none", {"crop_padding": 0}),
)
SEEDS = (0, 1, 2)
BASELINE = "none"
