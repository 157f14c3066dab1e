"""Batch norm against none: fewer steps to the same accuracy, and higher learning rates (Inception v2).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/batch_norm.py --workdir runs/batch_norm
    python -m eval study --workdir runs/batch_norm --target 0.5

Claim: normalising each convolution's outputs over the mini-batch lets a net reach the
same accuracy "with 14 times fewer training steps", and trains at learning rates that
make the unnormalised net diverge or stall: 5× and 30× the rate, with the LRN removed
(Ioffe & Szegedy 2015 §4.2, Fig. 2). Expected: with BN, cifar_convnet reaches the target
test top-1 in several times fewer steps at the same rate, and at 5× the rate it trains
as well or better, while the net without BN at 5× does worse or diverges.

Measured (2026-12-02, 2-core CPU, 14 min 55 s for the 12 runs; `python -m eval study --target 0.5`):

| variant | test top-1 % | train top-1 % | loss | steps to target | img/s | Δ top-1 vs baseline (95 % CI) |
| --- | --- | --- | --- | --- | --- | --- |
| bn | 60.84 ± 0.84 (3) | 66.67 ± 1.27 (3) | 1.116 ± 0.033 (3) | 208 ± 45 (3) | 1144 ± 63 (3) | +5.73 [+3.37, +8.10] |
| bn_x5 | 60.91 ± 0.85 (3) | 69.30 ± 0.48 (3) | 1.12 ± 0.024 (3) | 156 ± 0 (3) | 1169 ± 12 (3) | +5.80 [+3.43, +8.17] |
| none | 55.10 ± 1.15 (3) | 56.84 ± 0.93 (3) | 1.269 ± 0.031 (3) | 338 ± 45 (3) | 1132 ± 20 (3) | baseline |
| none_x5 | 58.95 ± 0.74 (3) | 62.66 ± 1.81 (3) | 1.159 ± 0.032 (3) | 260 ± 45 (3) | 1017 ± 35 (3) | +3.84 [+1.49, +6.19] |

Steps to 50 % test top-1 are counted at the evaluations, one every 78 steps.
Verdict: holds in part. With BN the net reaches 50 % in 1.6× fewer steps (208 against
338; to 45 %: 78 against 234, 3×) and ends 5.7 points higher; at 5× the rate BN trains
as well (60.9 %) and gets to 50 % sooner still (156 steps). The unnormalised net does
not diverge at 5× the rate here: it gains 3.8 points, so 0.01 was below its best rate,
and BN's 14× fewer steps were not seen.

Setup: `cifar_convnet` (train/configs/cifar_convnet_cifar10.py) on the first 1,000
training images of each CIFAR-10 class, no augmentation; SGD with momentum 0.9 at a
constant rate (0.01, or 0.05 for the ×5 variants), no warm-up, as the paper's
comparison; batch 128, 6 epochs (468 steps), evaluated on the 10,000 test images after
every epoch; the BN variants drop the LRN as Inception v2 did; seeds 0, 1, 2.
The paper-size experiment (for a GPU): `--config.train_examples=0 --config.num_epochs=100`.
"""
from train.configs import cifar_convnet_cifar10


def get_config():
  c = cifar_convnet_cifar10.study_config()
  c.optimizer = "momentum"
  c.learning_rate = 0.01
  c.schedule = "constant"
  c.warmup_epochs = 0.0
  c.num_epochs = 6
  c.checkpoint_every_steps = 78
  return c


_BN = {"model_kwargs.batch_norm": True, "model_kwargs.lrn": False}
VARIANTS = (
    ("bn", _BN),
    ("bn_x5", {**_BN, "learning_rate": 0.05}),
    ("none", {}),
    ("none_x5", {"learning_rate": 0.05}),
)
SEEDS = (0, 1, 2)
BASELINE = "none"
