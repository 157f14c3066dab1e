"""Object detection: Faster R-CNN trained end to end (approximate joint training).

One jit-compiled step per batch: backbone features, the RPN's anchor targets (256
anchors per image, at most half positive), proposals (NMS 0.7), RoI targets (128 per
image, at most a quarter foreground), RoI pooling and the box head, and the four
losses of py-faster-rcnn: softmax cross-entropy and smooth-L1 (sigma 3) for the RPN,
the same (sigma 1) for the head. Static shapes throughout: boxes are padded with a
mask, sampling is a fixed-size top-k over random keys, NMS is `nms_padded`.

The run's dataset info holds what evaluating it needs: class names, channels,
normalisation, the resize rule and the padded input shape.
"""
import dataclasses
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh

from jcnn import detection, losses, models, parallel, runs
from jcnn.detection import data as det_data
from jcnn.evaluators.detection import DetectionEvaluator
from jcnn.models import faster_rcnn
from jcnn.state import TrainState
from jcnn.tasks import base, init_from

# `--data KIND:PATH` sources that evaluate a run on another dataset with its classes.
EXTERNAL_SOURCES = ("voc_dir", "coco_json", "yolo_dir")


class Detection(base.Task):
  name = "detection"
  detects = True
  identity = ("min_size", "max_size", "padded_size", "canvas", "anchor_scales",
              "anchor_ratios", "feature", "rpn_channels", "roi_op", "roi_size", "head")

  def fields(self) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # Defaults of common fields that differ for detection.
    c.model = "vgg16"              # the backbone: a zoo model with a cut (models.backbone)
    c.dataset = "mnist_detection"  # jcnn.detection.data.DATASETS
    c.batch_size = 2
    c.eval_batch_size = 8
    c.optimizer = "momentum"
    c.learning_rate = 1e-3
    c.schedule = "step"
    c.weight_decay = 5e-4
    c.best_metric = "map50"
    # Data.
    c.min_size = 600               # shorter side resized to this (py-faster-rcnn's SCALES)
    c.max_size = 1000              # ... unless the longer side would exceed this
    c.padded_size = 0              # inputs padded to padded_size² (0: max_size²)
    c.max_boxes = 50               # boxes per image in a batch (padded with a mask)
    c.flip = False                 # augmentation: random horizontal flip
    # The digit canvases' generator settings (jcnn.detection.data.CanvasConfig's defaults).
    c.canvas = ml_collections.ConfigDict(dataclasses.asdict(det_data.CanvasConfig()))
    # Model.
    c.feature = ""                 # the backbone feature read (default: the backbone's)
    c.anchor_scales = (8, 16, 32)  # multiples of the stride (16: 128, 256, 512 px)
    c.anchor_ratios = (0.5, 1, 2)  # heights / widths
    c.rpn_channels = 512
    c.roi_op = "pool"              # pool (RoI max pooling) | align (RoI Align)
    c.roi_size = 0                 # pooled side (0: the backbone's, VGG 7, ZF 6)
    c.head = ()                    # box head hidden widths (empty: the backbone's fc6/fc7)
    c.dropout_rate = 0.5
    c.freeze_batch_norm = True
    c.update(init_from.fields())   # the classifier's weights start the backbone
    # RPN training (py-faster-rcnn's TRAIN.RPN_*).
    c.rpn_positive_iou = 0.7
    c.rpn_negative_iou = 0.3
    c.rpn_batch_size = 256
    c.rpn_positive_fraction = 0.5
    c.allowed_border = 0.0
    c.rpn_pre_nms_top_n_train = 12000
    c.rpn_post_nms_top_n_train = 2000
    c.rpn_pre_nms_top_n_test = 6000
    c.rpn_post_nms_top_n_test = 300
    c.rpn_nms_threshold = 0.7
    c.rpn_min_size = 16.0          # network-input pixels
    # Head training (py-faster-rcnn's TRAIN.*).
    c.roi_batch_size = 128
    c.fg_fraction = 0.25
    c.fg_iou = 0.5
    c.bg_iou_high = 0.5
    c.bg_iou_low = 0.0
    c.bbox_weights = (10.0, 10.0, 5.0, 5.0)  # 1 / BBOX_NORMALIZE_STDS (0.1, 0.1, 0.2, 0.2)
    c.rpn_sigma = 3.0
    c.head_sigma = 1.0
    # Inference.
    c.score_threshold = 0.05
    c.nms_threshold = 0.3
    c.max_detections = 100
    return c

  def validate(self, config: ml_collections.ConfigDict) -> None:
    models.backbone(config.model)
    validate_data(config)
    init_from.validate(config)
    unit = lambda v: 0 <= v <= 1
    base.check_fields(config, [
        ("min_size", config.min_size > 0, "must be positive"),
        ("max_size", config.max_size >= config.min_size, "must be >= config.min_size"),
        ("padded_size", config.padded_size == 0 or config.padded_size >= config.max_size,
         "must be 0 or >= config.max_size"),
        ("max_boxes", config.max_boxes > 0, "must be positive"),
        ("roi_op", config.roi_op in ("pool", "align"), "must be 'pool' or 'align'"),
        ("anchor_scales", len(config.anchor_scales) > 0 and min(config.anchor_scales) > 0,
         "must be positive numbers"),
        ("anchor_ratios", len(config.anchor_ratios) > 0 and min(config.anchor_ratios) > 0,
         "must be positive numbers"),
        ("rpn_negative_iou", config.rpn_negative_iou <= config.rpn_positive_iou,
         "must be <= config.rpn_positive_iou"),
        ("rpn_positive_fraction", unit(config.rpn_positive_fraction), "must be in [0, 1]"),
        ("fg_fraction", unit(config.fg_fraction), "must be in [0, 1]"),
        ("bg_iou_high", config.bg_iou_low <= config.bg_iou_high <= config.fg_iou,
         "must lie in [config.bg_iou_low, config.fg_iou]"),
        ("rpn_batch_size", config.rpn_batch_size > 0, "must be positive"),
        ("roi_batch_size", config.roi_batch_size > 0, "must be positive"),
        ("rpn_post_nms_top_n_train",
         0 < config.rpn_post_nms_top_n_train <= config.rpn_pre_nms_top_n_train,
         "must be in [1, config.rpn_pre_nms_top_n_train]"),
        ("rpn_post_nms_top_n_test",
         0 < config.rpn_post_nms_top_n_test <= config.rpn_pre_nms_top_n_test,
         "must be in [1, config.rpn_pre_nms_top_n_test]"),
        ("score_threshold", unit(config.score_threshold), "must be in [0, 1]"),
        ("max_detections", config.max_detections > 0, "must be positive"),
        ("rpn_sigma", config.rpn_sigma > 0, "must be positive"),
        ("head_sigma", config.head_sigma > 0, "must be positive"),
    ])

  def model(self, config: ml_collections.ConfigDict, dataset_info: dict) -> nn.Module:
    return faster_rcnn.FasterRCNN(
        num_classes=len(dataset_info["class_names"]), backbone=config.model,
        backbone_kwargs=tuple(sorted(config.model_kwargs.to_dict().items())),
        feature=config.feature, anchor_scales=tuple(config.anchor_scales),
        anchor_ratios=tuple(config.anchor_ratios), rpn_channels=config.rpn_channels,
        roi_op=config.roi_op, roi_size=config.roi_size, head=tuple(config.head),
        dropout_rate=config.dropout_rate, pre_nms_top_n=config.rpn_pre_nms_top_n_test,
        post_nms_top_n=config.rpn_post_nms_top_n_test,
        rpn_nms_threshold=config.rpn_nms_threshold, rpn_min_size=config.rpn_min_size,
        score_threshold=config.score_threshold, nms_threshold=config.nms_threshold,
        max_detections=config.max_detections, freeze_batch_norm=config.freeze_batch_norm)

  def training(self, config: ml_collections.ConfigDict, mesh: Mesh,
               run=None) -> base.Training:
    train_split = self.load_split(config, config.train_split)
    pretrained = (init_from.load_checked(config, train_split.channels) if config.init_from
                  else None)
    info = dataset_info(config, train_split, pretrained)
    eval_split = self.load_split(config, config.eval_split)
    model = self.model(config, info)
    evaluator = DetectionEvaluator(
        base.apply_fn(config, model),
        lambda: batches(config, info, eval_split, train=False, mesh=mesh), eval_split,
        mesh=mesh)
    return base.Training(
        dataset_info=info, num_examples=len(train_split), model=model,
        train_step=train_step(config),
        batches=lambda epoch, start: batches(config, info, train_split, train=True,
                                             epoch=epoch, start_batch=start, mesh=mesh),
        evaluators=(evaluator,), progress=("loss", "rpn_cls", "head_cls"),
        init_variables=None if pretrained is None else (
            lambda v: {**v, "params": init_from.backbone_and_head(v["params"], pretrained,
                                                                  config)}))

  def load_split(self, config: ml_collections.ConfigDict,
                 split: str) -> det_data.DetectionSplit:
    return load_split(config, split)

  def load_split_from(self, config: ml_collections.ConfigDict,
                      spec: str) -> det_data.DetectionSplit:
    return load_split_from(spec)

  def batches(self, config: ml_collections.ConfigDict, dataset_info: dict,
              split: det_data.DetectionSplit, *, train: bool, epoch: int = 0,
              start_batch: int = 0, mesh: Mesh | None = None):
    """Batches of `split` converted to the run's input (channels, size, normalisation)."""
    return batches(config, dataset_info, split, train=train, epoch=epoch,
                   start_batch=start_batch, mesh=mesh)

  def evaluator(self, run: runs.Run, restored: base.Restored,
                split: det_data.DetectionSplit, name: str = "eval") -> DetectionEvaluator:
    """VOC and COCO AP on `split` (any images with the run's classes)."""
    return DetectionEvaluator(
        restored.apply,
        lambda: batches(run.config, run.dataset_info, split, train=False,
                        mesh=restored.mesh),
        split, mesh=restored.mesh, name=name)


def validate_data(config: ml_collections.ConfigDict) -> None:
  """Refuses an unknown detection dataset or a bad canvas field, naming it."""
  det_data.CanvasConfig(**config.canvas.to_dict())
  if config.dataset not in det_data.DATASETS:
    raise ValueError(f"unknown detection dataset {config.dataset!r} (config.dataset); "
                     f"choose from {', '.join(det_data.DATASETS)}")


def load_split(config: ml_collections.ConfigDict, split: str) -> det_data.DetectionSplit:
  """`split` of the config's dataset (the digit canvases as `config.canvas` says)."""
  canvas = det_data.CanvasConfig(**config.canvas.to_dict())
  loaded = det_data.load(config.dataset, split, data_dir=config.data_dir or None,
                         canvas=canvas)
  limit = {config.train_split: config.train_examples,
           config.eval_split: config.eval_examples}.get(split, 0)
  return loaded.subset(limit) if limit else loaded


def load_split_from(spec: str) -> det_data.DetectionSplit:
  """The images of `spec` = "voc_dir:DIR" | "coco_json:FILE" | "yolo_dir:DIR"."""
  kind, _, path = spec.partition(":")
  if kind not in EXTERNAL_SOURCES or not path:
    raise ValueError(f"--data must be KIND:PATH with KIND in {', '.join(EXTERNAL_SOURCES)}"
                     f", got {spec!r}")
  return det_data.load(kind, "all", data_dir=path)


def normalisation(split: det_data.DetectionSplit,
                  pretrained: dict | None = None) -> tuple[list, list]:
  """Per-channel mean and std of the 0-1 pixels: a pre-trained network's own (its first
  layer's weights expect them), else those of the split's first 200 images."""
  if pretrained is not None:
    mean, std = pretrained["info"]["mean"], pretrained["info"]["std"]
  else:
    images = [split.image(i) for i in range(min(len(split), 200))]
    sample = np.stack([x for x in images if x.shape == images[0].shape]) / 255.0
    mean = sample.mean(axis=(0, 1, 2)).tolist()
    std = np.maximum(sample.std(axis=(0, 1, 2)), 1e-3).tolist()
  return list(np.atleast_1d(mean)), list(np.atleast_1d(std))


def dataset_info(config: ml_collections.ConfigDict, split: det_data.DetectionSplit,
                 pretrained: dict | None = None) -> dict:
  """What evaluating the run needs: classes, channels, normalisation and sizes."""
  mean, std = normalisation(split, pretrained)
  side = config.padded_size or config.max_size
  return {"class_names": list(split.class_names), "channels": int(split.channels),
          "mean": mean, "std": std, "min_size": config.min_size,
          "max_size": config.max_size, "image_shape": [side, side, int(split.channels)]}


def batches(config: ml_collections.ConfigDict, info: dict, split: det_data.DetectionSplit,
            *, train: bool, epoch: int = 0, start_batch: int = 0, mesh: Mesh | None = None,
            padded_shape: tuple[int, int] | None = None):
  """The run's batches of `split` (train: shuffled, flipped if the config says so),
  padded to the run's square input or to `padded_shape` (H, W)."""
  side = info["image_shape"][0]
  size = config.batch_size if train else config.eval_batch_size
  return det_data.batches(
      split, size, rows=parallel.local_rows(mesh, size),
      min_size=info["min_size"], max_size=info["max_size"],
      padded_shape=padded_shape or (side, side),
      max_boxes=config.max_boxes, train=train, seed=config.seed, epoch=epoch,
      start_batch=start_batch, flip=config.flip and train,
      mean=np.asarray(info["mean"], np.float32), std=np.asarray(info["std"], np.float32),
      channels=info["channels"])


@dataclasses.dataclass(frozen=True)
class LossOptions:
  """The sampling and loss settings one training step reads (py-faster-rcnn's
  TRAIN.RPN_* and TRAIN.*): typed and hashable, not the run's whole config."""
  rpn_positive_iou: float
  rpn_negative_iou: float
  rpn_batch_size: int
  rpn_positive_fraction: float
  allowed_border: float
  rpn_pre_nms_top_n: int
  rpn_post_nms_top_n: int
  roi_batch_size: int
  fg_fraction: float
  fg_iou: float
  bg_iou_high: float
  bg_iou_low: float
  bbox_weights: tuple[float, float, float, float]
  rpn_sigma: float
  head_sigma: float

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "LossOptions":
    return cls(
        rpn_positive_iou=config.rpn_positive_iou, rpn_negative_iou=config.rpn_negative_iou,
        rpn_batch_size=config.rpn_batch_size,
        rpn_positive_fraction=config.rpn_positive_fraction,
        allowed_border=config.allowed_border,
        rpn_pre_nms_top_n=config.rpn_pre_nms_top_n_train,
        rpn_post_nms_top_n=config.rpn_post_nms_top_n_train,
        roi_batch_size=config.roi_batch_size, fg_fraction=config.fg_fraction,
        fg_iou=config.fg_iou, bg_iou_high=config.bg_iou_high, bg_iou_low=config.bg_iou_low,
        bbox_weights=tuple(config.bbox_weights), rpn_sigma=config.rpn_sigma,
        head_sigma=config.head_sigma)


def train_step(config: ml_collections.ConfigDict) -> Callable:
  """Returns `train_step(state, batch) -> (state, metrics)` for Faster R-CNN.

  The loss is rpn_cls + rpn_box + head_cls + head_box (py-faster-rcnn's four, each
  weight 1) + `weight_decay * l2_penalty`. The RPN's box loss is normalised by the
  sampled anchors (256 per image) and the head's by the sampled RoIs (128 per image),
  as py-faster-rcnn's outside weights do. Proposals carry no gradient (approximate joint
  training). Sampling and dropout draw from the state's key folded with the step.
  """
  options = LossOptions.from_config(config)

  def loss_fn(params, state: TrainState, batch):
    variables = {"params": params}
    if state.batch_stats:
      variables["batch_stats"] = state.batch_stats
    anchor_key, roi_key, dropout_key = jax.random.split(state.step_rng(), 3)
    parts = state.apply_fn(variables, batch["image"], batch, anchor_key, roi_key, options,
                           method=_losses, rngs={"dropout": dropout_key})
    loss = parts["rpn_cls"] + parts["rpn_box"] + parts["head_cls"] + parts["head_box"]
    total = loss
    if config.weight_decay:
      total += config.weight_decay * losses.l2_penalty(params, config.weight_decay_subset)
    return total, (loss, parts)

  def step(state: TrainState, batch: dict):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (total, (loss, parts)), grads = grad_fn(state.params, state, batch)
    return state.apply_gradients(grads=grads), {"loss": loss, "total_loss": total, **parts}

  return step


def _losses(model: faster_rcnn.FasterRCNN, images, batch, anchor_key, roi_key,
            options: LossOptions):
  """The four losses and sampling statistics of one batch (run inside `model.apply`)."""
  features = model.features(images, train=True)
  objectness, deltas = model.rpn(features)
  anchors = model.anchors(features.shape[1:3])
  count = images.shape[0]
  anchor_targets = jax.vmap(lambda boxes, mask, size, key: detection.anchor_targets(
      anchors, boxes, mask, size, key, positive_iou=options.rpn_positive_iou,
      negative_iou=options.rpn_negative_iou, num_samples=options.rpn_batch_size,
      positive_fraction=options.rpn_positive_fraction,
      allowed_border=options.allowed_border))(
          batch["boxes"], batch["box_mask"], batch["image_size"],
          jax.random.split(anchor_key, count))
  proposals = model.propose(features, objectness, deltas, batch["image_size"],
                            pre_nms_top_n=options.rpn_pre_nms_top_n,
                            post_nms_top_n=options.rpn_post_nms_top_n)
  roi_targets = jax.vmap(lambda p, valid, boxes, labels, mask, key: detection.proposal_targets(
      p, valid, boxes, labels, mask, key, num_samples=options.roi_batch_size,
      fg_fraction=options.fg_fraction, fg_iou=options.fg_iou,
      bg_iou_high=options.bg_iou_high, bg_iou_low=options.bg_iou_low,
      weights=options.bbox_weights))(
          proposals.boxes, proposals.valid, batch["boxes"], batch["labels"],
          batch["box_mask"], jax.random.split(roi_key, count))
  logits, box_deltas = model.box_head(features, roi_targets.rois, train=True,
                                      image_shape=images.shape[1:3])

  sampled = anchor_targets.labels >= 0
  positive = anchor_targets.labels == 1
  num_sampled = jnp.maximum(sampled.sum(), 1)
  rpn_cls = jnp.sum(jnp.where(sampled, _binary_cross_entropy(objectness, positive), 0.0))
  rpn_box = jnp.sum(jnp.where(positive[..., None], losses.smooth_l1(
      deltas, anchor_targets.box_targets, options.rpn_sigma), 0.0))

  valid = roi_targets.valid
  num_rois = jnp.maximum(valid.sum(), 1)
  head_cls = losses.softmax_cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                          roi_targets.labels.reshape(-1),
                                          weights=valid.reshape(-1).astype(jnp.float32))
  chosen = jnp.take_along_axis(box_deltas, roi_targets.labels[..., None, None],
                               axis=2)[..., 0, :]
  foreground = valid & (roi_targets.labels > 0)
  head_box = jnp.sum(jnp.where(foreground[..., None], losses.smooth_l1(
      chosen, roi_targets.box_targets, options.head_sigma), 0.0))
  return {"rpn_cls": rpn_cls / num_sampled, "rpn_box": rpn_box / num_sampled,
          "head_cls": head_cls, "head_box": head_box / num_rois,
          "rpn_positives": positive.sum() / count, "fg_rois": foreground.sum() / count,
          "proposals": proposals.valid.sum() / count}


def _binary_cross_entropy(logits, positive):
  """Sigmoid cross-entropy: py-faster-rcnn's 2-way softmax with a zero background logit."""
  return jnp.where(positive, jax.nn.softplus(-logits), jax.nn.softplus(logits))
