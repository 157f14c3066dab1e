"""Local response normalisation against none (AlexNet §3.3).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/lrn.py --workdir runs/lrn
    python -m eval study --workdir runs/lrn

Claim: response normalisation after the first layers "reduces our top-1 and top-5 error
rates by 1.4 % and 1.2 %" on ImageNet, and on CIFAR-10 "a four-layer CNN achieved a 13 %
test error rate without normalization and 11 % with" (Krizhevsky et al. 2012 §3.3).
Expected: the same net with LRN after pools 1 and 2 reaches about 2 points higher test
top-1 than without.

Measured (2026-12-02, 2-core CPU, 9 min 29 s for the 6 runs; `python -m eval study`):

| variant | test top-1 % | train top-1 % | test loss | img/s | Δ top-1 vs none (95 % CI) |
|---|---|---|---|---|---|
| lrn | 57.35 ± 0.36 (3) | 60.42 ± 3.43 (3) | 1.207 ± 0.012 | 994 ± 5 | -1.90 [-2.77, -1.03] |
| none | 59.25 ± 0.05 (3) | 61.65 ± 1.58 (3) | 1.165 ± 0.002 | 1145 ± 32 | baseline |

Verdict: does not hold at this scale, and the interval excludes 0: LRN costs 1.9
points and 13 % of the throughput. With k = 2 and α = 1e-4 the normaliser of these
activations is close to a fixed 2^0.75: LRN here mostly divides the first two layers'
outputs by 1.7, which normalises little; why that costs accuracy under Adam and He
initialisation was not isolated. The paper's gain came with SGD at hand-tuned rates
over 140 epochs of all 50,000 images. Batch norm (train/studies/batch_norm.py) is what
replaced it.

Setup: `cifar_convnet` (train/configs/cifar_convnet_cifar10.py: AlexNet's four-layer
CIFAR-10 net) on the first 1,000 training images of each CIFAR-10 class, no
augmentation, Adam 1e-3 with cosine decay, batch 128, 8 epochs (624 steps), evaluated
on the 10,000 test images every 2 epochs; seeds 0, 1, 2.
The paper-size experiment (for a GPU): `--config.train_examples=0 --config.num_epochs=140`
(cuda-convnet's 18 % net, trained on all 50,000 images).
"""
from train.configs import cifar_convnet_cifar10


def get_config():
  return cifar_convnet_cifar10.study_config()


VARIANTS = (
    ("lrn", {}),
    ("none", {"model_kwargs.lrn": False}),
)
SEEDS = (0, 1, 2)
BASELINE = "none"
