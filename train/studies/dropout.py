"""Dropout against none: dropout cuts overfitting (AlexNet §4.2; Srivastava et al. 2014).

    python -m train --study train/studies/dropout.py --workdir runs/dropout
    python -m eval study --workdir runs/dropout

Claim: "Without dropout, our network exhibits substantial overfitting" (Krizhevsky et
al. 2012 §4.2); dropout on the fully connected layers lowers the test error of nets that
can memorise their training set (Srivastava et al. 2014, Table 2: MNIST). Expected: the
classic TensorFlow MNIST net (3.3 M parameters, one dropout before its last layer),
trained on 1,347 digits without augmentation, fits them either way; with dropout 0.5
its generalisation gap is smaller and its test top-1 no lower.

Measured (2026-12-02, 2-core CPU, 1 min 40 s for the 6 runs; `python -m eval study`):

| variant | test top-1 % | best top-1 % | train top-1 % | test loss | Δ top-1 vs none (95 % CI) |
|---|---|---|---|---|---|
| dropout | 99.04 ± 0.34 (3) | 99.56 ± 0.22 (3) | 100.00 ± 0.00 (3) | 0.0185 ± 0.0043 | +0.00 [-0.74, +0.74] |
| none | 99.04 ± 0.13 (3) | 99.11 ± 0.22 (3) | 100.00 ± 0.00 (3) | 0.0226 ± 0.0007 | baseline |

Verdict: does not hold in top-1 at this scale: both fit the training set and end equal
(99.04 %); dropout's trace is an 18 % lower test loss and a higher best checkpoint
(+0.45 points), within the noise of 3 seeds. The 450 test digits leave too little error
to cut: the claim needs a net that overfits a larger test set (AlexNet's fc6/fc7 on
CIFAR-10, the GPU variant below).

Setup: `lenet_tf` on scikit-learn's digits resized to 28×28, no augmentation, Adam 1e-3
with cosine decay, batch 32, 20 epochs; dropout_rate 0.5 against 0.0; seeds 0, 1, 2.
The paper-size experiment (for a GPU): `alexnet_1tower_cifar10` with its classifier's
dropout_rate 0.5 against 0.0.
"""
from train.configs import default


def get_config():
  c = default.get_config()
  c.model = "lenet_tf"
  c.model_kwargs.dropout_rate = 0.5
  c.resize = 28
  c.crop_padding = 0
  c.learning_rate = 1e-3
  c.num_epochs = 20
  return c


VARIANTS = (
    ("dropout", {}),
    ("none", {"model_kwargs.dropout_rate": 0.0}),
)
SEEDS = (0, 1, 2)
BASELINE = "none"
