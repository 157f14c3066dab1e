"""small_vgg on CIFAR-10: the pre-trained backbone of the raccoon detector.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/small_vgg_cifar10.py

The R-CNN papers' supervised pre-training at this machine's scale: the detector
(train/configs/faster_rcnn_raccoon.py) starts its backbone from this run's weights
(`config.init_from`). Crop + flip augmentation, Adam, cosine decay.

Measured (seed 0, 2026-12-01, 2-core CPU): 72.6 % top-1 (98.2 % top-5) on the 10,000
CIFAR-10 test images (JPEG q75) in 3 min 31 s wall time, ~3,000 img/s.
"""
from train.configs import default, resnet20_cifar10


def get_config():
  c = default.base()
  c.name = "small_vgg_cifar10"
  c.model = "small_vgg"
  c.dataset = "image_folder"
  c.data_dir = resnet20_cifar10.cifar10_zip()
  c.crop_padding = 4
  c.flip = True
  c.batch_size = 128
  c.num_epochs = 10
  c.optimizer = "adam"
  c.learning_rate = 2e-3
  c.schedule = "cosine"
  c.weight_decay = 5e-5
  c.log_every_steps = 100
  return c
