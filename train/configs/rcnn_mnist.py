"""R-CNN on MNIST-detection canvases, sized for a 2-core CPU.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/lenet5_mnist.py  # stage 2
    JCNN_DATA_DIR=<data> python -m train --config train/configs/rcnn_mnist.py
    python -m eval detect --workdir runs/rcnn_mnist

The stages (jcnn/tasks/rcnn/): selective search (fast mode, boxes of 8 px and up) on
5,000 training canvases and all 2,000 test canvases of faster_rcnn_mnist.py's generator;
LeNet-5 pre-trained on MNIST (runs/lenet5_mnist); fine-tuned (Adam 3e-4, cosine, 3,000
steps) on windows warped to its 32×32 input with 6 px of context (the framing of an
MNIST digit padded to 32, which the pre-trained net saw), 128 windows a batch, 32 of
them foreground; linear SVMs on F6 (84 units: fc7's place) with rbg's hard-negative
mining; ridge box regression on S4 (pool5's place); NMS 0.3.

Measured (2-core AMD EPYC CPU, 2026-12-06): VOC mAP@0.5 0.884 (11-point 0.854), COCO AP
0.660 / AP50 0.880 / AP75 0.794 on the 2,000 test canvases (`python -m eval detect
--json` gives the same from the checkpoint); 79 proposals per canvas, recall 0.949
(train) / 0.947 (test) at IoU 0.5; windows' top-1 0.882. Wall time 11 min 33 s
(`/usr/bin/time`): selective search 9 min 10 s (7,000 canvases, ~13 per second),
fine-tuning 53 s, features + SVMs + regressors + the test the rest; plus 2 min 6 s for
runs/lenet5_mnist (99.21 %).
"""
from train.configs import default


def get_config():
  c = default.base("rcnn")
  c.name = "rcnn_mnist"
  c.model = "lenet5"
  c.dataset = "mnist_detection"
  c.train_examples = 5000
  c.eval_examples = 0             # all 2,000 test canvases
  c.init_from = "runs/lenet5_mnist"
  c.context = 6
  c.optimizer = "adam"
  c.learning_rate = 3e-4
  c.schedule = "cosine"
  c.num_train_steps = 3000
  c.checkpoint_every_steps = 1000
  c.log_every_steps = 50
  return c
