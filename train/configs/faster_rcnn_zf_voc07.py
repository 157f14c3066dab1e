"""Faster R-CNN, ZF net, PASCAL VOC 2007 trainval -> test: the paper's setup (not run here).

    python -m train --config train/configs/faster_rcnn_zf_voc07.py \
        --config.init_from=<an ImageNet-trained zfnet classification run>

Ren et al. 2015, Table 2: 59.9 % mAP (VOC07 11-point, `map50_11pt`) with shared
features. The VGG-16 config's recipe with ZF's conv5 (stride 16, 256 channels), a
256-wide RPN conv and 6×6 RoI pooling into ZF's fc6/fc7. Needs VOC2007 through TFDS
`manual_dir` and an ImageNet-initialised backbone, as that config says.
"""
from train.configs import faster_rcnn_vgg16_voc07


def get_config():
  c = faster_rcnn_vgg16_voc07.get_config()
  c.name = "faster_rcnn_zf_voc07"
  c.model = "zfnet"
  c.rpn_channels = 256
  return c
