"""ReLU against tanh: non-saturating units train faster (AlexNet §3.1, Fig. 1).

    python -m train --study train/studies/relu_vs_tanh.py --workdir runs/relu_vs_tanh
    python -m eval study runs/relu_vs_tanh --target 0.95

Claim: a four-layer CNN with ReLUs reaches 25 % training error on CIFAR-10 six times
faster than the same net with tanh units (Krizhevsky et al. 2012, Fig. 1: 5 against
~35 epochs). Expected here: LeNet-5 with ReLUs reaches 95 % test top-1 in several times
fewer steps than LeNet-5 with tanh, the rest of the recipe equal.

MEASURED

Setup: the default job's LeNet-5 and data (scikit-learn's 1,347 training digits, ±2 px
crops), trained as AlexNet was: SGD with momentum 0.9 at a constant rate 0.01, batch 32,
no warm-up, 10 epochs; evaluated every 21 steps (half an epoch) so the steps to the
target are resolved; seeds 0, 1, 2. The paper-size experiment (its four-layer net on
CIFAR-10, for a GPU) needs an activation switch on a CIFAR-sized zoo model; LeNet-5
is the zoo model that has one.
"""
from train.configs import default


def get_config():
  c = default.get_config()
  c.model_kwargs.activation = "relu"
  c.optimizer = "momentum"
  c.learning_rate = 0.01
  c.schedule = "constant"
  c.warmup_epochs = 0.0
  c.num_epochs = 10
  c.checkpoint_every_steps = 21
  return c


VARIANTS = (
    ("relu", {}),
    ("tanh", {"model_kwargs.activation": "tanh"}),
)
SEEDS = (0, 1, 2)
BASELINE = "tanh"
