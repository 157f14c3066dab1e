"""ResNet-20 on CIFAR-10 in a CPU-sized run: the paper's recipe over 4 epochs, cosine decay.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/resnet20_cifar10_short.py

Same model, data, augmentation (pad 4 + random crop, flip), optimizer (SGD momentum
0.9, lr 0.1, batch 128) and weight decay as resnet20_cifar10.py, but 4 epochs
(1,560 steps) with the rate decayed by a cosine instead of 64k steps with two drops.

Measured (seed 0, 2026-12-02, 2-core AMD EPYC CPU, nothing else running): 73.1 % top-1
on the 10,000 CIFAR-10 test images in 4 min 50 s wall time (the run that
colabs/ablation_studies.ipynb knocks blocks out of). Before oneDNN (2026-11-28, `time
python -m train ...`, the zip already decoded in $JCNN_CACHE_DIR): 72.7 % top-1 and 98.4 %
top-5 in 15 min 15 s, training at ~235 img/s end to end; after each epoch 44.2, 56.6,
69.9, 72.7 % top-1. Both are stored in benchmarks/results/accuracy.jsonl. The full
recipe (resnet20_cifar10.py) reaches the paper's ~91 %.
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
