"""Local response normalisation against none (AlexNet §3.3).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/lrn.py --workdir runs/lrn
    python -m eval study runs/lrn

Claim: response normalisation after the first layers "reduces our top-1 and top-5 error
rates by 1.4 % and 1.2 %" on ImageNet, and on CIFAR-10 "a four-layer CNN achieved a 13 %
test error rate without normalization and 11 % with" (Krizhevsky et al. 2012 §3.3).
Expected: the same net with LRN after pools 1 and 2 reaches about 2 points higher test
top-1 than without.

Measured: MEASURED

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
