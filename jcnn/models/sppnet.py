"""SPP-net for detection (He et al. 2014, §4): a zoo network's convolutions run once over
the whole image, each window's projection on the last conv map is pooled by a spatial
pyramid ({6, 3, 2, 1}: 50 bins per channel), then fully connected layers classify it.

  model = SPPNet(num_classes=11, backbone="lenet5", feature="s4", stride=4, offset=7.5)
  windows = {"images": x, "boxes": b, "index": i}   # [B, H, W, C], [K, 4], int [K]
  logits = model.apply(variables, windows)          # [K, 11]
  logits = model.apply(variables, x)                # each whole image as one window
  fc7, pooled = model.apply(variables, windows, method=SPPNet.features)

With several `scales`, the image is resized to each and every window is pooled at the
scale where its side is closest to `scale_target` (the paper's multi-scale test: the
scaled window closest to 224 × 224 pixels).
"""
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jcnn.detection.roi import roi_spatial_pyramid_pool
from jcnn.models import registry
from jcnn.models.features import run_to_feature


class SPPNet(nn.Module):
  """SPP-net's detector network.

  Attributes:
    num_classes: outputs (the classes and background).
    backbone: a zoo model; its layers up to `feature` are the conv layers.
    backbone_kwargs: (name, value) pairs given to the zoo model.
    feature: the recorded feature map the pyramid pools (conv5 in the paper).
    stride, offset: the map's geometry in input pixels: cell i's centre is at
      offset + i * stride (`jcnn.analysis.receptive_field`'s jump and start); offset
      None is the paper's padding (`spp_project_boxes`).
    levels: the pyramid's bins per side.
    hidden: the fully connected layers' widths (fc6, fc7).
    dropout_rate: dropout after each of them.
    scales: image scales (1.0: the image as it is).
    scale_target: the window side (pixels) that picks each window's scale.
    freeze_conv: no gradient reaches the conv layers (the paper fine-tunes only the fc
      layers).
  """
  num_classes: int
  backbone: str = "lenet5"
  backbone_kwargs: tuple = ()
  feature: str = "s4"
  stride: float = 4.0
  offset: float | None = None
  levels: Sequence[int] = (6, 3, 2, 1)
  hidden: Sequence[int] = (120, 84)
  dropout_rate: float = 0.0
  scales: Sequence[float] = (1.0,)
  scale_target: float = 20.0
  freeze_conv: bool = True

  def setup(self):
    self.body = registry.create(self.backbone, **dict(self.backbone_kwargs))
    self.fcs = [nn.Dense(width, name=f"fc{6 + i}") for i, width in enumerate(self.hidden)]
    self.dropouts = [nn.Dropout(self.dropout_rate) for _ in self.hidden]
    self.cls_score = nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01))

  def pooled(self, windows) -> jax.Array:
    """The pyramid of every window [K, sum(n²) · channels] (pool5 in the paper)."""
    images, boxes, index = _windows(windows)
    per_scale = []
    for scale in self.scales:
      x = images
      if scale != 1.0:
        size = (round(images.shape[1] * scale), round(images.shape[2] * scale))
        x = jax.image.resize(images, (images.shape[0], *size, images.shape[3]), "linear")
      conv = run_to_feature(self.body, self.feature, x, train=False)
      if self.freeze_conv:
        conv = jax.lax.stop_gradient(conv)
      per_scale.append(roi_spatial_pyramid_pool(conv, boxes * scale, self.stride,
                                                self.levels, batch_indices=index,
                                                offset=self.offset,
                                                first_maximum=not self.freeze_conv))
    if len(per_scale) == 1:
      return per_scale[0]
    side = jnp.sqrt(jnp.prod(jnp.maximum(boxes[:, 2:] - boxes[:, :2], 1e-3), axis=1))
    scales = jnp.asarray(self.scales, jnp.float32)
    best = jnp.argmin(jnp.abs(side[:, None] * scales - self.scale_target), axis=1)
    return jnp.take_along_axis(jnp.stack(per_scale, axis=1), best[:, None, None],
                               axis=1)[:, 0]

  def features(self, windows, train: bool = False) -> tuple[jax.Array, jax.Array]:
    """fc7 (the SVMs' features, the last hidden layer after its ReLU) and the pyramid
    (the box regressors'), both [K, ...]."""
    pooled = self.pooled(windows)
    x = pooled
    for fc, dropout in zip(self.fcs, self.dropouts):
      x = dropout(jax.nn.relu(fc(x)), deterministic=not train)
    return x, pooled

  def __call__(self, windows, train: bool = False) -> jax.Array:
    """Class logits of every window [K, num_classes]."""
    return self.cls_score(self.features(windows, train)[0])


def _windows(windows) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(images, boxes, index) of a windows dict, or of images alone (each whole)."""
  if isinstance(windows, dict):
    return windows["images"], jnp.asarray(windows["boxes"], jnp.float32), windows["index"]
  images = windows
  batch, height, width = images.shape[:3]
  whole = jnp.tile(jnp.array([[0.0, 0.0, width, height]], jnp.float32), (batch, 1))
  return images, whole, jnp.arange(batch, dtype=jnp.int32)
