"""ResNet-20 on CIFAR-10 in a CPU-sized run: the paper's recipe over 4 epochs, cosine decay.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/resnet20_cifar10_short.py

Same model, data, augmentation (pad 4 + random crop, flip), optimizer (SGD momentum
0.9, lr 0.1, batch 128) and weight decay as resnet20_cifar10.py, but 4 epochs
(1,560 steps) with the rate decayed by a cosine instead of 64k steps with two drops.

Expected: far short of the full recipe's 91.25 %; roughly 75-80 % top-1 is a guess, not
yet measured.
Time on a 2-core CPU: one step of 128 images takes 1.35 CPU-seconds (measured over 30
steps; 41-47 img/s of wall time while ~8 other jobs shared the machine), so ≈ 190 img/s
on 2 idle cores: about 18 minutes for the 200k training images, plus 4 evaluations of the
10,000 test images (≈ 20 s each) and ~30 s to decode the zip on the first run.
"""
from train.configs import resnet20_cifar10


def get_config():
  c = resnet20_cifar10.get_config()
  c.name = "resnet20_cifar10_short"
  c.num_train_steps = -1
  c.num_epochs = 4
  c.schedule = "cosine"
  c.boundaries = ()
  c.log_every_steps = 20
  return c
