"""Global average pooling against a dense head (NiN §3.2, §4.6).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/gap_vs_fc.py --workdir runs/gap_vs_fc
    python -m eval study runs/gap_vs_fc

Claim: averaging each class's feature map replaces the fully connected classifier,
"is itself a structural regularizer" and generalises better: NiN's CIFAR-10 test error
is 10.41 % with global average pooling against 10.88 % with a dense layer on the same
maps (Lin et al. 2014, Table 5). Expected: the GAP head (650 parameters against the
dense head's 10,250) overfits less: a smaller generalisation gap and test top-1 no lower.

Measured: MEASURED

Setup: `cifar_convnet` (train/configs/cifar_convnet_cifar10.py: AlexNet's four-layer
CIFAR-10 net) on the first 1,000 training images of each CIFAR-10 class, no
augmentation, Adam 1e-3 with cosine decay, batch 128, 8 epochs (624 steps), evaluated
on the 10,000 test images every 2 epochs; seeds 0, 1, 2.
The paper-size experiment (for a GPU): `nin_cifar10` itself; `nin` has no dense-head
option, so the study runs on cifar_convnet's `head` field.
"""
from train.configs import cifar_convnet_cifar10


def get_config():
  return cifar_convnet_cifar10.study_config()


VARIANTS = (
    ("gap", {"model_kwargs.head": "gap"}),
    ("dense", {}),
)
SEEDS = (0, 1, 2)
BASELINE = "dense"
