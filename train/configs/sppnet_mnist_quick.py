"""SPP-net on rcnn_mnist_quick.py's canvases and proposals: the accuracy suite's SPP-net.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/sppnet_mnist_quick.py

sppnet_mnist.py's pipeline on the same 1,000 training and 300 test canvases as
rcnn_mnist_quick.py, whose proposals it copies, fine-tuned for 1,000 steps.

Measured (2-core AMD EPYC CPU, 2026-12-07, proposals copied): VOC mAP@0.5 0.837
(11-point 0.810), COCO AP 0.541 on the 300 test canvases, 3.0 points below
rcnn_mnist_quick's 0.867. Wall time 1 min 20 s. The accuracy suite
(tests/accuracy/test_claims.py) asserts it.
"""
from train.configs import rcnn_mnist_quick, sppnet_mnist


def get_config():
  c = sppnet_mnist.get_config()
  quick = rcnn_mnist_quick.get_config()
  for field in ("train_examples", "eval_examples", "num_train_steps",
                "checkpoint_every_steps"):
    c[field] = quick[field]
  c.name = "sppnet_mnist_quick"
  c.proposals_from = "runs/rcnn_mnist_quick"
  return c
