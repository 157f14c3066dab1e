"""R-CNN, AlexNet, PASCAL VOC 2007 trainval -> test: the paper's setup (not run here).

    python -m train --config train/configs/rcnn_alexnet_voc07.py \
        --config.init_from=<an ImageNet-trained alexnet classification run>
    python -m eval detect --workdir runs/rcnn_alexnet_voc07 --json

Girshick et al. 2014, Table 2: 58.5 % mAP (VOC07 11-point, `map50_11pt`) with box
regression (54.2 % without), fine-tuned, fc7 features. rbg's rcnn: selective search
"fast" mode (~2,000 boxes per image), windows warped to 227 × 227 with 16 px of context,
fine-tuning by SGD at 1e-3 on 128-window batches of 32 foreground (IoU >= 0.5), the
1000-way classifier replaced by a 21-way one; SVMs on fc7 (`classifier/relu7`) with
C = 0.001, positives weighted 2, hard-negative mining; ridge regression (λ = 1000) on
pool5; NMS 0.3.

Needs: VOC2007 prepared for TFDS from its original tar files (`manual_dir`) and an
AlexNet pre-trained on ImageNet (the paper's stage 2). Selective search over VOC07's
9,963 images takes hours on a CPU; the CNN stages need a GPU (each image's 2,000
warped windows are 2,000 AlexNet passes).
"""
from train.configs import default


def get_config():
  c = default.base("rcnn")
  c.name = "rcnn_alexnet_voc07"
  c.model = "alexnet"
  c.dataset = "voc"
  c.train_split = "train+validation"   # VOC2007 trainval
  c.eval_split = "test"
  c.search.min_box_size = 20
  c.max_proposals = 2000
  c.warp_size = 227
  c.context = 16
  c.feature = "classifier/relu7"
  c.regression_feature = "pool5"
  c.optimizer = "momentum"
  c.learning_rate = 1e-3
  c.schedule = "step"
  c.boundaries = (20_000,)
  c.decay_factor = 0.1
  c.num_train_steps = 40_000
  c.weight_decay = 5e-4
  c.checkpoint_every_steps = 5_000
  c.log_every_steps = 100
  c.feature_batch_size = 256
  return c
