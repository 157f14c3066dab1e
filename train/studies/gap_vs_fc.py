"""Global average pooling against a dense head (NiN §3.2, §4.6).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/gap_vs_fc.py --workdir runs/gap_vs_fc
    python -m eval study --workdir runs/gap_vs_fc

Claim: averaging each class's feature map replaces the fully connected classifier,
"is itself a structural regularizer" and generalises better: NiN's CIFAR-10 test error
is 10.41 % with global average pooling against 10.88 % with a dense layer on the same
maps (Lin et al. 2014, Table 5). Expected: the GAP head (650 parameters against the
dense head's 10,250) overfits less: a smaller generalisation gap and test top-1 no lower.

Measured (2026-12-02, 2-core CPU, 8 min 36 s for the 6 runs; `python -m eval study`):

| variant | test top-1 % | train top-1 % | gap % | loss | img/s | Δ top-1 vs baseline (95 % CI) |
| --- | --- | --- | --- | --- | --- | --- |
| gap | 48.01 ± 0.39 (3) | 46.81 ± 2.18 (3) | -1.20 ± 1.79 (3) | 1.442 ± 0.01 (3) | 1107 ± 42 (3) | -9.34 [-10.20, -8.49] |
| dense | 57.35 ± 0.36 (3) | 60.42 ± 3.43 (3) | 3.06 ± 3.09 (3) | 1.207 ± 0.012 (3) | 1108 ± 41 (3) | baseline |

Verdict: does not hold for accuracy; the regularisation half holds. The GAP head's
generalisation gap is −1.2 points against the dense head's 3.1, but it fits far less
(train top-1 47 against 60 %) and loses 9.3 points of test top-1. Here GAP follows a
single 1×1 convolution from 64 maps to 10; NiN's maps come out of a stack of mlpconv
layers that do the dense layer's work, which this net does not have.

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
