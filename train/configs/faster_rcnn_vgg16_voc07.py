"""Faster R-CNN, VGG-16, PASCAL VOC 2007 trainval -> test: the paper's setup (not run here).

    python -m train --config train/configs/faster_rcnn_vgg16_voc07.py \
        --config.init_from=<an ImageNet-trained vgg16 classification run>
    python -m eval detect --workdir runs/faster_rcnn_vgg16_voc07 --json

Ren et al. 2015, Table 3/6: 69.9 % mAP (VOC07 11-point metric, `map50_11pt`) with the
RPN and the detector sharing conv layers, trained on VOC2007 trainval (5,011 images).
py-faster-rcnn's end2end recipe: shorter side 600, longer at most 1000, horizontal
flips, one image per step, SGD momentum 0.9 at 1e-3 for 50k iterations then 1e-4 for
20k, weight decay 5e-4; 9 anchors (128, 256, 512 px × 0.5, 1, 2) at stride 16; 256
anchors and 128 RoIs (25 % foreground) per image; RPN NMS 0.7 keeping 12000 -> 2000
proposals in training, 6000 -> 300 at test; RoI pooling 7×7 into fc6/fc7.

Needs: VOC2007 prepared for TFDS from its original tar files (`manual_dir`, see
jcnn.detection.load_tfds) and a backbone pre-trained on ImageNet (the paper's
initialisation; training VGG-16 from scratch on VOC does not reach these numbers). About
a day on one GPU; the CPU here would take months.
"""
from train.configs import default


def get_config():
  c = default.base("detection")
  c.name = "faster_rcnn_vgg16_voc07"
  c.model = "vgg16"
  c.dataset = "voc"
  c.train_split = "train+validation"   # VOC2007 trainval
  c.eval_split = "test"
  c.min_size, c.max_size = 600, 1000
  c.flip = True
  c.rpn_channels = 512
  c.batch_size = 1
  c.eval_batch_size = 1
  c.optimizer = "momentum"
  c.learning_rate = 1e-3
  c.schedule = "step"
  c.boundaries = (50_000,)
  c.decay_factor = 0.1
  c.num_train_steps = 70_000
  c.weight_decay = 5e-4
  c.checkpoint_every_steps = 10_000
  c.log_every_steps = 100
  return c
