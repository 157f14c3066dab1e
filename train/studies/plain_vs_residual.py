"""Plain against residual nets at two depths: the degradation problem (ResNet §4.2, Fig. 6).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/plain_vs_residual.py --workdir runs/plain_vs_residual
    python -m eval study runs/plain_vs_residual --baseline plain20

Claim: a deeper plain net has *higher training error* than a shallower one: plain-56
trains worse than plain-20 on CIFAR-10, which overfitting cannot explain; with identity
shortcuts the deeper net wins: ResNet-56 has lower training and test error than
ResNet-20 (He et al. 2016 §4.2, Fig. 6; test error 8.75 % for ResNet-20, 6.97 % for
ResNet-56). Expected: plain56's train top-1 below plain20's; resnet56's at or above
resnet20's.

Measured: MEASURED

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
