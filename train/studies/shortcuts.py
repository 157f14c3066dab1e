"""Shortcut options A, B and C (ResNet §3.3, Table 3).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/shortcuts.py --workdir runs/shortcuts
    python -m eval study --workdir runs/shortcuts

Claim: (A) zero-padded identity shortcuts, (B) 1×1 projections only where the shape
changes and (C) projections on every shortcut all train deep residual nets; "B is
slightly better than A ... C is marginally better than B", and the small differences
show projections "are not essential for addressing the degradation problem" (He et al.
2016 §3.3, Table 3, ResNet-34 on ImageNet: top-1 error 25.03 / 24.52 / 24.19 %).
Expected: the three within a fraction of a point of each other, in the order A ≤ B ≤ C.

Measured (2026-12-02, 2-core CPU, 11 min 42 s for the 9 runs; `python -m eval study`):

| variant | test top-1 % | train top-1 % | loss | img/s | Δ top-1 vs baseline (95 % CI) |
| --- | --- | --- | --- | --- | --- |
| A | 45.24 ± 2.43 (3) | 45.17 ± 2.47 (3) | 1.486 ± 0.061 (3) | 576.6 ± 64 (3) | baseline |
| B | 43.38 ± 0.44 (3) | 43.63 ± 0.22 (3) | 1.519 ± 0.019 (3) | 567.9 ± 47 (3) | -1.86 [-7.64, +3.91] |
| C | 44.87 ± 0.40 (3) | 45.07 ± 0.82 (3) | 1.492 ± 0.011 (3) | 449.5 ± 18 (3) | -0.37 [-6.19, +5.45] |

Verdict: the main claim holds, the order does not: the three options end within 1.9
points of each other, with every interval wide across 0, so projections are not what
makes the net train; but A (45.2 %) is ahead of C (44.9 %) and B (43.4 %), not behind,
and C costs 22 % of the throughput. The `A` runs are bitwise
train/studies/plain_vs_residual.py's `resnet20`.

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
