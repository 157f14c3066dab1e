"""Shortcut options A, B and C (ResNet §3.3, Table 3).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/shortcuts.py --workdir runs/shortcuts
    python -m eval study runs/shortcuts

Claim: (A) zero-padded identity shortcuts, (B) 1×1 projections only where the shape
changes and (C) projections on every shortcut all train deep residual nets; "B is
slightly better than A ... C is marginally better than B", and the small differences
show projections "are not essential for addressing the degradation problem" (He et al.
2016 §3.3, Table 3, ResNet-34 on ImageNet: top-1 error 25.03 / 24.52 / 24.19 %).
Expected: the three within a fraction of a point of each other, in the order A ≤ B ≤ C.

Measured: MEASURED

Setup: ResNet-20 (269,722 / 272,474 / 283,962 parameters for A / B / C) with
resnet20_cifar10_short's recipe on the first 500 training images of each CIFAR-10
class for 5 epochs (195 steps), as train/studies/plain_vs_residual.py; seeds 0, 1, 2.
The paper-size experiment (for a GPU): the three options with
train/configs/resnet20_cifar10.py's 64k-step recipe.
"""
from train.studies import plain_vs_residual


def get_config():
  c = plain_vs_residual.get_config()
  c.model_kwargs.shortcut = "A"
  return c


VARIANTS = (
    ("A", {}),
    ("B", {"model_kwargs.shortcut": "B"}),
    ("C", {"model_kwargs.shortcut": "C"}),
)
SEEDS = (0, 1, 2)
BASELINE = "A"
