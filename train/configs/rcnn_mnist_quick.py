"""R-CNN on a fifth of rcnn_mnist.py's canvases: the accuracy suite's R-CNN.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/lenet5_mnist.py  # stage 2
    JCNN_DATA_DIR=<data> python -m train --config train/configs/rcnn_mnist_quick.py

rcnn_mnist.py's stages and settings on its first 1,000 training and 300 test canvases,
fine-tuned for 1,000 steps instead of 3,000.

Measured (2-core AMD EPYC CPU, 2026-12-07, runs/lenet5_mnist at 99.21 %): VOC mAP@0.5
0.867 (11-point 0.837), COCO AP 0.630 on the 300 test canvases; windows' top-1 0.875.
Wall time 2 min 12 s, of which selective search ~1 min 30 s (1,300 canvases). The
accuracy suite (tests/accuracy/test_claims.py) asserts it.
"""
from train.configs import rcnn_mnist


def get_config():
  c = rcnn_mnist.get_config()
  c.name = "rcnn_mnist_quick"
  c.train_examples = 1000
  c.eval_examples = 300
  c.num_train_steps = 1000
  c.checkpoint_every_steps = 500
  return c
