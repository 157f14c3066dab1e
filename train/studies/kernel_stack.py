"""Three stacked 3×3 convolutions against one 7×7 (VGG §2.3).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/kernel_stack.py --workdir runs/kernel_stack
    python -m eval study --workdir runs/kernel_stack

Claim: a stack of three 3×3 layers has the receptive field of one 7×7 but three
non-linearities and 27C² weights instead of 49C²: "this can be seen as imposing a
regularisation on the 7 × 7 conv. filters" (Simonyan & Zisserman 2015 §2.3); replacing
each pair of 3×3 layers by one 5×5 raised top-1 error by 7 % (§4.1). Expected: each of
cifar_convnet's three layers as three 3×3 convolutions (149,738 parameters) reaches a
higher test top-1 than as one 7×7 (165,610).

Measured (2026-12-02, 2-core CPU, 13 min 10 s for the 6 runs; `python -m eval study`):

| variant | test top-1 % | train top-1 % | gap % | loss | img/s | Δ top-1 vs baseline (95 % CI) |
| --- | --- | --- | --- | --- | --- | --- |
| 3x3_stack | 56.34 ± 0.86 (3) | 59.83 ± 1.44 (3) | 3.49 ± 0.94 (3) | 1.213 ± 0.011 (3) | 578.9 ± 46 (3) | -1.95 [-3.79, -0.11] |
| 7x7 | 58.29 ± 0.35 (3) | 61.72 ± 4.42 (3) | 3.43 ± 4.48 (3) | 1.187 ± 0.015 (3) | 993.7 ± 50 (3) | baseline |

Verdict: does not hold at this scale, and the interval excludes 0: the 3×3 stacks lose
1.95 points and run at 58 % of the 7×7 net's speed. The loss is not regularisation
(train top-1 is lower too, 59.8 against 61.7 %): nine convolutions without batch norm
fit more slowly in 624 steps than three; VGG trained its deep nets for 74 epochs and
initialised them from shallower ones.

Setup: `cifar_convnet` (train/configs/cifar_convnet_cifar10.py: AlexNet's four-layer
CIFAR-10 net) on the first 1,000 training images of each CIFAR-10 class, no
augmentation, Adam 1e-3 with cosine decay, batch 128, 8 epochs (624 steps), evaluated
on the 10,000 test images every 2 epochs; seeds 0, 1, 2.
The paper-size experiment (for a GPU): `--config.train_examples=0 --config.num_epochs=140`.
"""
from train.configs import cifar_convnet_cifar10


def get_config():
  return cifar_convnet_cifar10.study_config()


VARIANTS = (
    ("3x3_stack", {"model_kwargs.kernel": 3, "model_kwargs.stack": 3}),
    ("7x7", {"model_kwargs.kernel": 7}),
)
SEEDS = (0, 1, 2)
BASELINE = "7x7"
