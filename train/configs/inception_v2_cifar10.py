"""BN-Inception (Ioffe & Szegedy 2015, `inception_v2`) on CIFAR-10 at 32×32, 6 epochs.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/inception_v2_cifar10.py

Data: the CIFAR-10 image-folder zip <data>/cifar10/cifar10_jpeg_q75.zip (JPEG quality
75), all 50,000 training and 10,000 test images at their own 32×32, the model's
minimum (its stride of 32 leaves a 1×1 map before the pool). Not `googlenet`: its
auxiliary classifiers need inputs of at least 209 pixels in training: 1.5 G
multiply-adds per image against 41 M here, 37×.

Recipe: 6 epochs of Adam, lr 2e-3 after a half-epoch linear warmup, cosine decay,
batch 128, weight decay 5e-4 on the kernels, random 4-pixel shifts and horizontal
flips.

Expected: about 69 % top-1 on the 10,000 test images; no published number exists for
this setting. Measured: 69.4 % (seed 0; after each epoch 44.1, 52.1, 60.2, 64.8, 68.1,
69.4 %) on one H200 GPU with this config unchanged (checkpoints and TensorBoard off),
not on a CPU, which takes the same steps up to floating-point differences. Adam lr
1e-3 gave 64.7 %; SGD with momentum 0.9 and lr 0.1, 51.2 %.

Time on a 2-core CPU: about 48 min. Estimate: `python -m train` without jcnn's
XLA:CPU flags (off for this model) trained at 112 img/s over 60 steps of this config on
an idle 2-core AMD EPYC, extrapolated to the 2,340 steps (45 min), plus 6 evaluations
of the test set (~22 s each, from 4.4 ms of CPU per image), ~20 s of compiling and ~30
s of loading; decoding the zip adds ~30 s on a first run.
"""
from train.configs import default, resnet20_cifar10


def get_config():
  c = default.base()
  c.name = "inception_v2_cifar10"
  c.model = "inception_v2"
  c.dataset = "image_folder"
  c.data_dir = resnet20_cifar10.cifar10_zip()
  c.crop_padding = 4
  c.flip = True
  c.batch_size = 128
  c.num_epochs = 6
  c.optimizer = "adam"
  c.learning_rate = 2e-3
  c.warmup_epochs = 0.5
  c.weight_decay = 5e-4
  c.log_every_steps = 20
  return c
