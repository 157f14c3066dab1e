"""SPP-net, ZF-5, PASCAL VOC 2007 trainval -> test: the paper's setup (not run here).

    python -m train --config train/configs/sppnet_zf_voc07.py \
        --config.init_from=<an ImageNet-trained zfnet classification run>
    python -m eval detect --workdir runs/sppnet_zf_voc07 --json

He et al. 2014, Table 9: 59.2 % mAP (VOC07 11-point, `map50_11pt`) with fine-tuning and
box regression, single scale (58.5 % for R-CNN with AlexNet in the same table; 60.9 %
for SPP-net with five scales). ZF-5's conv5 (stride 16, 256 channels) computed once per
image at shorter side 688, each selective-search window's projection pooled by the
{6, 3, 2, 1} pyramid (12,800 values), fc6/fc7 (4,096 each, dropout 0.5) fine-tuned
alone with the conv layers fixed; SVMs on fc7, ridge regression on the pyramid, NMS 0.3.

Scales here are factors of the loaded image: 1.8 puts VOC's typical 375-px shorter side
at the paper's 688 (`--config.scales=1.28,1.54,1.83,2.3,3.2` approximates its five
scales {480, 576, 688, 864, 1200}, each window at the scale closest to 224 px).

Needs: VOC2007 through TFDS `manual_dir` and a ZF-5 pre-trained on ImageNet. A GPU for
the CNN stages; selective search is rcnn_alexnet_voc07's (`--config.proposals_from`).
"""
from train.configs import rcnn_alexnet_voc07, default


def get_config():
  rcnn = rcnn_alexnet_voc07.get_config()
  c = default.base("sppnet")
  for field in ("dataset", "train_split", "eval_split", "search", "max_proposals",
                "optimizer", "learning_rate", "schedule", "boundaries", "decay_factor",
                "num_train_steps", "weight_decay", "checkpoint_every_steps",
                "log_every_steps"):
    c[field] = rcnn[field]
  c.name = "sppnet_zf_voc07"
  c.model = "zfnet"
  c.model_kwargs = {"fully_convolutional": True}   # convolutions on any image size
  c.conv_feature = "relu5"
  c.head = (4096, 4096)
  c.dropout_rate = 0.5
  c.scales = (1.8,)
  c.scale_target = 224.0
  c.feature_batch_size = 2048
  return c
