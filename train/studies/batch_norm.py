"""Batch norm against none: fewer steps to the same accuracy, and higher learning rates (Inception v2).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/batch_norm.py --workdir runs/batch_norm
    python -m eval study runs/batch_norm --target 0.5

Claim: normalising each convolution's outputs over the mini-batch lets a net reach the
same accuracy "with 14 times fewer training steps", and trains at learning rates that
make the unnormalised net diverge or stall: 5× and 30× the rate, with the LRN removed
(Ioffe & Szegedy 2015 §4.2, Fig. 2). Expected: with BN, cifar_convnet reaches the target
test top-1 in several times fewer steps at the same rate, and at 5× the rate it trains
as well or better, while the net without BN at 5× does worse or diverges.

Measured: MEASURED

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
