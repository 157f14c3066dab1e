"""Plain against residual nets at two depths: the degradation problem (ResNet §4.2, Fig. 6).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/plain_vs_residual.py --workdir runs/plain_vs_residual
    python -m eval study --workdir runs/plain_vs_residual --baseline plain20

Claim: a deeper plain net has *higher training error* than a shallower one: plain-56
trains worse than plain-20 on CIFAR-10, which overfitting cannot explain; with identity
shortcuts the deeper net wins: ResNet-56 has lower training and test error than
ResNet-20 (He et al. 2016 §4.2, Fig. 6; test error 8.75 % for ResNet-20, 6.97 % for
ResNet-56). Expected: plain56's train top-1 below plain20's; resnet56's at or above
resnet20's.

Measured (2026-12-02, 2-core CPU, 37 min 49 s for the 12 runs; `python -m eval study`):

| variant | test top-1 % | train top-1 % | loss | img/s | Δ top-1 vs baseline (95 % CI) |
| --- | --- | --- | --- | --- | --- |
| resnet20 | 45.24 ± 2.43 (3) | 45.17 ± 2.47 (3) | 1.486 ± 0.061 (3) | 489.3 ± 27 (3) | +6.75 [+1.12, +12.37] |
| resnet56 | 22.21 ± 1.67 (3) | 21.09 ± 1.67 (3) | 2.078 ± 0.078 (3) | 138.9 ± 6 (3) | -16.29 [-19.96, -12.61] |
| plain20 | 38.49 ± 0.58 (3) | 38.91 ± 1.10 (3) | 1.633 ± 0.012 (3) | 541.1 ± 25 (3) | baseline |
| plain56 | 19.83 ± 2.51 (3) | 18.49 ± 2.97 (3) | 2.124 ± 0.089 (3) | 135.2 ± 5.7 (3) | -18.66 [-24.50, -12.83] |

Verdict: does not hold at this scale. The first half is seen: plain56's train top-1
(18.5 %) is far below plain20's (38.9 %). But resnet56's (21.1 %) is as far below
resnet20's (45.2 %): in 195 steps a 56-layer net has not yet trained, with shortcuts or
without, so this budget cannot tell degradation from slow starts. Shortcuts help at both
depths (+6.3 points of train top-1 at 20 layers, +2.6 at 56); the paper's curves cross
after thousands of steps.

Setup: resnet20_cifar10_short's recipe (SGD momentum 0.9 at 0.1 with cosine decay,
batch 128, weight decay 1e-4, pad-4 crops and flips) on the first 500 training images
of each CIFAR-10 class for 5 epochs (195 steps), evaluated on the 10,000 test images
after epochs 2, 4 and 5; train top-1 averaged over each 20-step window (on augmented
batches, as the paper's curves); seeds 0, 1, 2. The paper-size experiment (for a GPU):
the four models with train/configs/resnet20_cifar10.py's 64k-step recipe.
"""
from train.configs import resnet20_cifar10_short


def get_config():
  c = resnet20_cifar10_short.get_config()
  c.train_examples = 5_000
  c.num_epochs = 5
  c.checkpoint_every_steps = 78
  return c


VARIANTS = (
    ("resnet20", {}),
    ("resnet56", {"model": "resnet56"}),
    ("plain20", {"model": "plain20"}),
    ("plain56", {"model": "plain56"}),
)
SEEDS = (0, 1, 2)
BASELINE = "plain20"
