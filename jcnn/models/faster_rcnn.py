"""Faster R-CNN (Ren et al. 2015): a zoo backbone cut at one feature map, shared by a
region proposal network and a Fast R-CNN box head.

  model = FasterRCNN(num_classes=20, backbone="vgg16")
  variables = model.init(key, images)                       # images [B, H, W, C]
  found = model.apply(variables, images, image_sizes)       # detections, padded
  found["boxes"] [B, D, 4], found["scores"], found["labels"], found["valid"] [B, D]

The parts are methods, so a training step can run them in order and sample targets
between them inside one jit (`jcnn.tasks.detection`): `features` -> `rpn` ->
`propose` -> `box_head` (`test_proposals` runs the first three at test time).
Everything has static shapes; per-image work is vmapped. Boxes are xyxy in
network-input pixels.

Mixed precision (`config.dtype`, jcnn.precision): the backbone, the RPN's conv and the
box head compute in the input's dtype, but `rpn` and `box_head` return float32, so box
decoding, top-k, NMS, scores and the losses run in float32: bfloat16 keeps 8 significant
bits, which would tie scores by the hundred and put pixel coordinates near 1000 on a
4-px grid.
"""
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jcnn import detection
from jcnn.models import registry
from jcnn.models.features import run_to_feature
from jcnn.models.layers import Conv, FlatDense


class RPNHead(nn.Module):
  """3×3 conv + ReLU, then 1×1 objectness (one logit per anchor) and 1×1 4k deltas.

  py-faster-rcnn's initialisation: every kernel N(0, 0.01), biases 0. One sigmoid logit
  per anchor is py-faster-rcnn's two-way softmax with the background logit fixed at 0.
  """
  channels: int
  num_anchors: int

  @nn.compact
  def __call__(self, features: jax.Array) -> tuple[jax.Array, jax.Array]:
    """features [B, h, w, C] -> objectness [B, h*w*A], deltas [B, h*w*A, 4]."""
    init = nn.initializers.normal(0.01)
    x = jax.nn.relu(Conv(self.channels, (3, 3), padding=1, kernel_init=init,
                         name="conv")(features))
    objectness = Conv(self.num_anchors, (1, 1), padding=0, kernel_init=init,
                      name="objectness")(x)
    deltas = Conv(4 * self.num_anchors, (1, 1), padding=0, kernel_init=init,
                  name="deltas")(x)
    batch = features.shape[0]
    return objectness.reshape(batch, -1), deltas.reshape(batch, -1, 4)


class BoxHead(nn.Module):
  """fc6, fc7 (ReLU, dropout), then N+1 class scores and class-specific deltas.

  Scores start N(0, 0.01) and deltas N(0, 0.001), as py-faster-rcnn.
  """
  num_classes: int
  hidden: tuple[int, ...]
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, pooled: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    """pooled [K, s, s, C] -> logits [K, N+1], deltas [K, N+1, 4]."""
    x = pooled
    for i, width in enumerate(self.hidden):
      dense = FlatDense if x.ndim == 4 else nn.Dense  # fc6 reads the pooled map
      x = jax.nn.relu(dense(width, name=f"fc{6 + i}")(x))
      if self.dropout_rate:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = x.reshape(x.shape[0], -1)
    logits = nn.Dense(self.num_classes + 1, kernel_init=nn.initializers.normal(0.01),
                      name="cls_score")(x)
    deltas = nn.Dense(4 * (self.num_classes + 1), kernel_init=nn.initializers.normal(0.001),
                      name="bbox_pred")(x)
    return logits, deltas.reshape(-1, self.num_classes + 1, 4)


class FasterRCNN(nn.Module):
  """Faster R-CNN with approximate joint training's parts.

  Attributes:
    num_classes: foreground classes (the head adds background as class 0).
    backbone: a zoo model with a detection cut (`jcnn.models.backbone`).
    backbone_kwargs: (name, value) pairs given to the zoo model.
    feature: the feature map to read (default: the backbone's, e.g. VGG-16's relu5_3).
    anchor_scales, anchor_ratios: `generate_anchors`' (base size = the stride).
    rpn_channels: the RPN's 3×3 conv width (VGG: 512, ZF: 256).
    roi_op: "pool" (Fast R-CNN's RoI max pooling) or "align" (RoI Align).
    roi_size: the pooled side (default: the backbone's).
    head: the box head's hidden widths (default: the backbone's).
    dropout_rate: dropout after fc6 and fc7.
    pre_nms_top_n, post_nms_top_n: proposals kept before / after the RPN's NMS, at
      test time (train-time values are arguments of `propose`).
    rpn_nms_threshold, rpn_min_size: the RPN's NMS IoU and smallest box side (pixels).
    score_threshold, nms_threshold, max_detections: the detection output's.
    freeze_batch_norm: backbones with BatchNorm keep their statistics (as Detectron's
      frozen BN: one or two images per device give no usable batch statistics).
  """
  num_classes: int
  backbone: str = "vgg16"
  backbone_kwargs: tuple = ()
  feature: str = ""
  anchor_scales: Sequence[float] = (8, 16, 32)
  anchor_ratios: Sequence[float] = (0.5, 1, 2)
  rpn_channels: int = 512
  roi_op: str = "pool"
  roi_size: int = 0
  head: tuple[int, ...] = ()
  dropout_rate: float = 0.5
  pre_nms_top_n: int = 6000
  post_nms_top_n: int = 300
  rpn_nms_threshold: float = 0.7
  rpn_min_size: float = 16.0
  score_threshold: float = 0.05
  nms_threshold: float = 0.3
  max_detections: int = 100
  freeze_batch_norm: bool = True

  def setup(self):
    cut = registry.backbone(self.backbone)
    if self.roi_op not in ("pool", "align"):
      raise ValueError(f"roi_op must be 'pool' or 'align', got {self.roi_op!r}")
    self.cut = cut
    self.body = registry.create(self.backbone, **dict(cut.kwargs), **dict(self.backbone_kwargs))
    self.rpn_head = RPNHead(self.rpn_channels, len(self.anchor_scales) * len(self.anchor_ratios))
    self.box_predictor = BoxHead(self.num_classes, tuple(self.head) or cut.head, self.dropout_rate)

  @property
  def stride(self) -> int:
    return registry.backbone(self.backbone).stride

  def features(self, images: jax.Array, train: bool = False) -> jax.Array:
    """The shared conv feature map [B, h, w, C]."""
    return run_to_feature(self.body, self.feature or self.cut.feature, images,
                          train=train and not self.freeze_batch_norm)

  def rpn(self, features: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Objectness logits [B, A] and deltas [B, A, 4] of every anchor (`anchors` order),
    in float32."""
    objectness, deltas = self.rpn_head(features)
    return objectness.astype(jnp.float32), deltas.astype(jnp.float32)

  def anchors(self, feature_shape: tuple[int, int]) -> jax.Array:
    """[h * w * k, 4] anchors of a feature map, in py-faster-rcnn's order."""
    base = detection.generate_anchors(self.stride, self.anchor_ratios, self.anchor_scales)
    return detection.grid_anchors(base, feature_shape, self.stride)

  def propose(self, features, objectness, deltas, image_sizes, *, pre_nms_top_n: int,
              post_nms_top_n: int) -> detection.Proposals:
    """The RPN's proposals per image (no gradient flows back through them)."""
    anchors = self.anchors(features.shape[1:3])
    propose = lambda o, d, size: detection.rpn_proposals(
        anchors, o, d, size, pre_nms_top_n=pre_nms_top_n, post_nms_top_n=post_nms_top_n,
        nms_threshold=self.rpn_nms_threshold, min_size=self.rpn_min_size)
    return jax.vmap(propose)(jax.lax.stop_gradient(objectness),
                             jax.lax.stop_gradient(deltas), image_sizes)

  def test_proposals(self, images: jax.Array,
                     image_sizes: jax.Array) -> tuple[jax.Array, detection.Proposals]:
    """The feature map and the test-time proposals (`pre_nms_top_n` -> `post_nms_top_n`)."""
    features = self.features(images, train=False)
    objectness, deltas = self.rpn(features)
    return features, self.propose(features, objectness, deltas, image_sizes,
                                  pre_nms_top_n=self.pre_nms_top_n,
                                  post_nms_top_n=self.post_nms_top_n)

  def box_head(self, features: jax.Array, rois: jax.Array, train: bool = False,
               image_shape: tuple[int, int] | None = None) -> tuple[jax.Array, jax.Array]:
    """rois [B, R, 4] -> class logits [B, R, N+1] and deltas [B, R, N+1, 4], in float32.

    With the input's `image_shape` (H, W), which rois clipped to their image never
    exceed, RoI pooling builds only the table levels such rois need (`roi_pool`'s
    `max_roi_size`).
    """
    batch, count = rois.shape[:2]
    size = self.roi_size or self.cut.roi_size
    flat = jax.lax.stop_gradient(rois).reshape(-1, 4)
    images = jnp.repeat(jnp.arange(batch), count)
    pool = detection.roi_pool if self.roi_op == "pool" else detection.roi_align
    kwargs = ({"first_maximum": train, "max_roi_size": image_shape}  # values alone at test
              if self.roi_op == "pool" else {"sampling_ratio": 2})
    pooled = pool(features, flat, size, spatial_scale=1.0 / self.stride,
                  batch_indices=images, **kwargs)
    logits, deltas = self.box_predictor(pooled, train)
    return (logits.astype(jnp.float32).reshape(batch, count, -1),
            deltas.astype(jnp.float32).reshape(batch, count, self.num_classes + 1, 4))

  def __call__(self, images: jax.Array, image_sizes: jax.Array | None = None,
               train: bool = False) -> dict[str, jax.Array]:
    """Detections of each image, padded to `max_detections` with `valid` False."""
    if image_sizes is None:
      image_sizes = jnp.tile(jnp.array(images.shape[1:3], jnp.int32), (images.shape[0], 1))
    features, proposals = self.test_proposals(images, image_sizes)
    logits, box_deltas = self.box_head(features, proposals.boxes, train=False,
                                       image_shape=images.shape[1:3])
    detect = lambda r, v, lg, d, size: detection.detect(
        r, v, lg, d, size, score_threshold=self.score_threshold,
        nms_threshold=self.nms_threshold, max_detections=self.max_detections)
    found = jax.vmap(detect)(proposals.boxes, proposals.valid, logits, box_deltas,
                             image_sizes)
    return {"boxes": found.boxes, "scores": found.scores, "labels": found.labels,
            "valid": found.valid}

