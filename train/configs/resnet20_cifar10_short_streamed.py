"""resnet20_cifar10_short through the streaming path: CIFAR-10's JPEGs decoded per batch.

    JCNN_DATA_DIR=<data> python -m train --config resnet20_cifar10_short_streamed

The same run as resnet20_cifar10_short.py (ResNet-20, 4 epochs, SGD momentum 0.9, lr 0.1
cosine, batch 128, weight decay) but the 50,000 training JPEGs are read from the zip and
decoded per batch by a Grain worker process (jcnn.data.streaming) instead of being
decoded once into memory: the paper's pad-4 random crop and flip (`pad_crop`), the test
images at their own 32×32 (`eval_resize=32`: no resize, the centre crop is the image),
normalised with ImageNet's statistics, as every streamed run is, rather than CIFAR-10's.

Measured (seed 0, 2026-12-07, 2-core CPU, one decoding worker, nothing else running):
72.5 % top-1 in 7 min 10 s wall time, beside 73.1 % in 6 min 6 s for the in-memory run
right before it (1.17×: the worker decodes 200,000 JPEGs on the cores the training
uses). Stored in benchmarks/results/accuracy.jsonl; the accuracy suite checks both.
"""
from train.configs import resnet20_cifar10_short


def get_config():
  c = resnet20_cifar10_short.get_config()
  c.name = "resnet20_cifar10_short_streamed"
  c.image_size = 32
  c.train_crop = "pad_crop"  # crop_padding 4 and flip, as the in-memory config
  c.eval_resize = 32
  return c
