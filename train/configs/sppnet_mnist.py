"""SPP-net on MNIST-detection canvases, sized for a 2-core CPU: rcnn_mnist.py's data,
proposals and pre-trained LeNet-5, with the CNN run once per canvas.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/lenet5_mnist.py  # stage 2
    JCNN_DATA_DIR=<data> python -m train --config train/configs/sppnet_mnist.py
    python -m eval detect --workdir runs/sppnet_mnist

The stages (jcnn/tasks/rcnn/sppnet.py): rcnn_mnist's selective-search proposals of the same
5,000 training and 2,000 test canvases (copied from runs/rcnn_mnist when it is there,
searched otherwise: +9 min); LeNet-5's C1-S4 from runs/lenet5_mnist run over the whole
128×128 canvas (S4: stride 4, first centre at 8 px); each window's projection on S4
pooled by the {6, 3, 2, 1} pyramid (50 bins × 16 channels); fc6 (120) and fc7 (84)
fine-tuned alone (Adam 1e-3, cosine, 3,000 steps) on 128-window batches with 32
foreground; linear SVMs on fc7, ridge box regression on the pyramid; NMS 0.3.

Measured (2-core AMD EPYC CPU, 2026-12-06): VOC mAP@0.5 0.863 (11-point 0.834), COCO AP
0.566 / AP50 0.860 / AP75 0.682 on the 2,000 test canvases, 2.0 points below
rcnn_mnist's 0.884 (the paper: 59.2 against R-CNN's 58.5 on VOC07); `python -m eval
detect --json` gives the same. Wall time 4 min 39 s (proposals copied): fine-tuning
3 min 1 s, the rest features, SVMs, regressors and the test.
"""
from train.configs import default, rcnn_mnist


def get_config():
  rcnn = rcnn_mnist.get_config()
  c = default.base("sppnet")
  # R-CNN's data, proposals, pre-trained net and schedule: the comparison is the pipeline.
  for field in ("model", "dataset", "canvas", "train_examples", "eval_examples", "search",
                "max_proposals", "init_from", "optimizer", "schedule", "num_train_steps",
                "checkpoint_every_steps", "log_every_steps"):
    c[field] = rcnn[field]
  c.name = "sppnet_mnist"
  c.proposals_from = "runs/rcnn_mnist"
  c.learning_rate = 1e-3         # fresh fc layers (R-CNN fine-tunes pre-trained ones: 3e-4)
  return c
