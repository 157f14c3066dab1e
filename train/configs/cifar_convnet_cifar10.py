"""cifar_convnet (AlexNet's four-layer CIFAR-10 net) on a CIFAR-10 subset: the CIFAR studies' base.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/cifar_convnet_cifar10.py

Data: the first 1,000 training images of each class of the CIFAR-10 zip
(<data>/cifar10/cifar10_jpeg_q75.zip, `train_examples`), no augmentation (as
cuda-convnet's 18 % net); the 10,000 test images.

Recipe: Adam 1e-3 with cosine decay, weight decay 5e-4, batch 128, 8 epochs (624
steps), evaluated every 2 epochs. The studies in train/studies/ (lrn,
overlapping_pooling, gap_vs_fc, kernel_stack, batch_norm) switch one model field of it.
`--config.train_examples=0 --config.num_epochs=140` is the full-size run for a GPU
(cuda-convnet: 18 % test error in 140 epochs).

Expected: well short of cuda-convnet's 82 % at this budget (8 of its 140 epochs, on
a fifth of the images). Measured (seeds 0, 1, 2, 2026-12-02, 2-core CPU; the `lrn`
variant of train/studies/lrn.py): 57.35 ± 0.36 % top-1 on the 10,000 test images, 93 s
wall time a run (~1,000 img/s).
"""
from train.configs import default, resnet20_cifar10


def get_config():
  c = default.base()
  c.name = "cifar_convnet_cifar10"
  c.model = "cifar_convnet"
  c.dataset = "image_folder"
  c.data_dir = resnet20_cifar10.cifar10_zip()
  c.train_examples = 10_000
  c.crop_padding = 0
  c.batch_size = 128
  c.num_epochs = 8
  c.checkpoint_every_steps = 156
  c.optimizer = "adam"
  c.learning_rate = 1e-3
  c.schedule = "cosine"
  c.weight_decay = 5e-4
  c.log_every_steps = 20
  return c


def study_config():
  """`get_config` with every model field a study switches spelled out (at the model's
  defaults), so a study's variants can override it."""
  c = get_config()
  c.model_kwargs.update(dict(activation="relu", lrn=True, pool_window=3, head="dense",
                             kernel=5, stack=1, batch_norm=False))
  return c
