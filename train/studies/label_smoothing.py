"""Label smoothing against one-hot targets (Inception v3, Szegedy et al. 2016 §7).

    python -m train --study train/studies/label_smoothing.py --workdir runs/label_smoothing
    python -m eval study runs/label_smoothing

Claim: training against targets smoothed with ε = 0.1 (the uniform distribution mixed
in) regularises the classifier: about 0.2 % absolute lower top-1 and top-5 error on
ImageNet (Szegedy et al. 2016 §7). Expected: at the scale of 450 test digits, where one
image is 0.22 points, a change that small cannot be resolved; what can be seen is the
mechanism: a higher training loss floor and less confident predictions.

MEASURED

Setup: the default job (LeNet-5, scikit-learn's 1,347 training digits, ±2 px crops,
30 epochs of Adam), label_smoothing 0.1 against 0.0; seeds 0, 1, 2. The paper-size
experiment (for a GPU): `inception_v3` on ImageNet, which needs the ImageNet data this
machine does not have; on CIFAR-10, `resnet20_cifar10` with label_smoothing 0.1.
"""
from train.configs import default


def get_config():
  c = default.get_config()
  c.label_smoothing = 0.1
  return c


VARIANTS = (
    ("smoothed", {}),
    ("one_hot", {"label_smoothing": 0.0}),
)
SEEDS = (0, 1, 2)
BASELINE = "one_hot"
