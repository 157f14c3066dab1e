"""ZFNet on CIFAR-10 upsampled to 64×64, on `alexnet_1tower_cifar10`'s recipe unchanged:
Zeiler & Fergus's AlexNet -> ZFNet comparison (2013, §4.1 and Fig. 6) at this scale.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/zfnet_cifar10.py
    python -m eval viz --workdir runs/zfnet_cifar10 filters
    python -m eval viz --workdir runs/zfnet_cifar10 deconv --layer norm2

ZF-5 takes 224×224 inputs; `adaptive_pool` puts torchvision's adaptive average pool to
6×6 before its head (the identity at 224) so that it reads the same 64×64 images as
`alexnet_1tower` (conv1 7×7/2 against 11×11/4, the change the paper made after seeing
AlexNet's layer-1 filters and layer-2 aliasing). At 64×64 both nets' pool5 is 1×1.

Measured on a 2-core CPU with `--config.num_epochs=3` for both nets (2026-12-06):
zfnet 49.6 % top-1 (34.5, 46.8, 49.6 after each epoch) in 25 min 55 s wall;
alexnet_1tower_cifar10 54.1 % (41.4, 52.2, 54.1) in 18 min 1 s. ZF-5 trains at ~90
img/s against AlexNet's ~150 (its stride-2 conv1 keeps 4× the positions): the recipe's
10 epochs take about 85 min here. The filters and projections side by side:
docs/visualisation.md.
"""
from train.configs import alexnet_1tower_cifar10


def get_config():
  c = alexnet_1tower_cifar10.get_config()
  c.name = "zfnet_cifar10"
  c.model = "zfnet"
  c.model_kwargs = {"adaptive_pool": True}
  return c
