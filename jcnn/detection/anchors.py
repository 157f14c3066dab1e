"""Faster R-CNN's anchors: py-faster-rcnn's reference boxes and their grid over a feature map.

Anchors use py-faster-rcnn's inclusive-pixel coordinates ("+1" convention; see `boxes`):
the reference window is [0, 0, base_size - 1, base_size - 1].
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np


def generate_anchors(base_size: int = 16, ratios=(0.5, 1, 2),
                     scales=(8, 16, 32)) -> np.ndarray:
  """py-faster-rcnn's `generate_anchors`: one anchor per (ratio, scale), ratio-major.

  Each ratio r (height / width) first reshapes the base window at constant area, with
  widths and heights rounded half to even (NumPy's `round`, as the reference); each
  scale then multiplies both sides, around the window's center pixel.

  Args:
    base_size: the side of the reference window, the feature stride (16 for VGG-16).
    ratios: heights / widths.
    scales: multiples of the (reshaped) window's sides.

  Returns:
    float32 [len(ratios) * len(scales), 4] xyxy (inclusive pixels), centered on
    ((base_size - 1) / 2, (base_size - 1) / 2).
  """
  ratios = np.asarray(ratios, np.float64)
  scales = np.asarray(scales, np.float64)
  if base_size < 1 or ratios.ndim != 1 or scales.ndim != 1 or np.any(ratios <= 0) or np.any(
      scales <= 0):
    raise ValueError(f"need base_size >= 1 and positive 1-D ratios and scales, got "
                     f"{base_size!r}, {ratios!r}, {scales!r}")
  center = 0.5 * (base_size - 1)
  widths = np.round(np.sqrt(base_size * base_size / ratios))
  heights = np.round(widths * ratios)
  widths = (widths[:, None] * scales[None, :]).ravel()
  heights = (heights[:, None] * scales[None, :]).ravel()
  anchors = np.stack([center - 0.5 * (widths - 1), center - 0.5 * (heights - 1),
                      center + 0.5 * (widths - 1), center + 0.5 * (heights - 1)], axis=1)
  return anchors.astype(np.float32)


def feature_map_size(image_size: tuple[int, int], stride: int) -> tuple[int, int]:
  """The (height, width) of a stride-`stride` feature map of an image, ceil(size / stride).

  Caffe's VGG-16 pools with ceil mode, so each of its four 2x2 poolings rounds up: a
  600 x 800 image gives a 38 x 50 conv5_3 map (stride 16), and 38 * 50 * 9 = 17,100
  anchors.

  Args:
    image_size: (height, width) in pixels.
    stride: the feature map's total stride.

  Returns:
    (height, width) of the feature map.
  """
  if len(image_size) != 2 or min(image_size) < 1 or stride < 1:
    raise ValueError(f"need image_size (height, width) >= 1 and stride >= 1, got "
                     f"{image_size!r}, {stride!r}")
  return math.ceil(image_size[0] / stride), math.ceil(image_size[1] / stride)


def grid_anchors(anchors: jax.Array, feature_shape: tuple[int, int],
                 stride: int) -> jax.Array:
  """Places `anchors` at every feature-map cell, in py-faster-rcnn's order.

  The anchors of cell (y, x) are shifted by (x * stride, y * stride); rows run over
  (y, x, anchor), so row (y * width + x) * A + a is anchor a at cell (y, x), matching an
  NHWC RPN head output [height, width, A * 4] reshaped to [-1, 4].

  Args:
    anchors: [A, 4] xyxy, e.g. from `generate_anchors`.
    feature_shape: (height, width) of the feature map.
    stride: pixels between neighbouring cells.

  Returns:
    [height * width * A, 4] xyxy.
  """
  anchors = jnp.asarray(anchors)
  if anchors.ndim != 2 or anchors.shape[1] != 4:
    raise ValueError(f"anchors must be [A, 4], got {anchors.shape}")
  if len(feature_shape) != 2:
    raise ValueError(f"feature_shape must be (height, width), got {feature_shape!r}")
  return _grid_anchors(anchors, feature_shape=tuple(int(s) for s in feature_shape),
                       stride=stride)


@functools.partial(jax.jit, static_argnames=("feature_shape", "stride"))
def _grid_anchors(anchors, *, feature_shape, stride):
  height, width = feature_shape
  shift_x, shift_y = jnp.meshgrid(jnp.arange(width) * stride, jnp.arange(height) * stride)
  shifts = jnp.stack([shift_x, shift_y, shift_x, shift_y], axis=-1).reshape(-1, 1, 4)
  return (shifts.astype(anchors.dtype) + anchors[None, :, :]).reshape(-1, 4)
