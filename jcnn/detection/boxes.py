"""Box formats, areas, IoU and clipping, with torchvision's and py-faster-rcnn's conventions.

Boxes are `[..., 4]` arrays in one of three formats:
  "xyxy"   (x1, y1, x2, y2): corners; the format every other function here expects.
  "xywh"   (x1, y1, width, height): COCO's annotation format.
  "cxcywh" (center x, center y, width, height): YOLO's and DETR's format.

Coordinates are continuous (torchvision): a box's width is x2 - x1, so [0, 0, 10, 10]
covers 10 x 10 pixels. `legacy_pixel=True` selects the R-CNN / py-faster-rcnn / PASCAL VOC
devkit convention instead, where coordinates index pixels inclusively and a width is
x2 - x1 + 1 (the same box is [0, 0, 9, 9]).

Degenerate boxes are handled one documented way everywhere: a negative width or height
counts as 0, so inverted boxes are empty (torchvision multiplies the signed sides), and the
IoU of two boxes whose union is empty is 0 (torchvision gives 0/0 = NaN).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

FORMATS = ("xyxy", "xywh", "cxcywh")


def as_float(boxes, name: str = "boxes") -> jax.Array:
  """`boxes` as a float array [..., 4] (integer boxes become float32)."""
  boxes = jnp.asarray(boxes)
  if boxes.ndim < 1 or boxes.shape[-1] != 4:
    raise ValueError(f"{name} must have shape [..., 4], got {boxes.shape}")
  if not jnp.issubdtype(boxes.dtype, jnp.floating):
    boxes = boxes.astype(jnp.float32)
  return boxes


def _check_format(fmt: str) -> None:
  if fmt not in FORMATS:
    raise ValueError(f"box format must be one of {FORMATS}, got {fmt!r}")


@functools.partial(jax.jit, static_argnames=("in_fmt", "out_fmt", "legacy_pixel"))
def convert_boxes(boxes: jax.Array, in_fmt: str, out_fmt: str,
                  legacy_pixel: bool = False) -> jax.Array:
  """Converts boxes between "xyxy", "xywh" and "cxcywh" (torchvision's `box_convert`).

  Args:
    boxes: [..., 4] in `in_fmt`.
    in_fmt: the format of `boxes`.
    out_fmt: the format wanted.
    legacy_pixel: widths and heights count pixels inclusively (x2 - x1 + 1), and a center
      is the middle pixel, (x1 + x2) / 2, as py-faster-rcnn's `_whctrs`.

  Returns:
    [..., 4] in `out_fmt`, float.
  """
  _check_format(in_fmt)
  _check_format(out_fmt)
  boxes = as_float(boxes)
  if in_fmt == out_fmt:
    return boxes
  one = 1.0 if legacy_pixel else 0.0
  a, b, c, d = jnp.moveaxis(boxes, -1, 0)
  if in_fmt == "xywh":
    x1, y1, x2, y2 = a, b, a + c - one, b + d - one
  elif in_fmt == "cxcywh":
    x1, y1 = a - 0.5 * (c - one), b - 0.5 * (d - one)
    x2, y2 = a + 0.5 * (c - one), b + 0.5 * (d - one)
  else:
    x1, y1, x2, y2 = a, b, c, d
  w, h = x2 - x1 + one, y2 - y1 + one
  if out_fmt == "xywh":
    out = (x1, y1, w, h)
  elif out_fmt == "cxcywh":
    out = (0.5 * (x1 + x2), 0.5 * (y1 + y2), w, h)
  else:
    out = (x1, y1, x2, y2)
  return jnp.stack(out, axis=-1)


@functools.partial(jax.jit, static_argnames=("fmt", "legacy_pixel"))
def box_area(boxes: jax.Array, fmt: str = "xyxy", legacy_pixel: bool = False) -> jax.Array:
  """Areas of boxes; inverted boxes (x2 < x1 or y2 < y1) have area 0.

  Args:
    boxes: [..., 4] in `fmt`.
    fmt: "xyxy", "xywh" or "cxcywh".
    legacy_pixel: count pixels inclusively, (x2 - x1 + 1) * (y2 - y1 + 1).

  Returns:
    [...].
  """
  boxes = convert_boxes(boxes, fmt, "xyxy", legacy_pixel)
  one = 1.0 if legacy_pixel else 0.0
  w = jnp.maximum(boxes[..., 2] - boxes[..., 0] + one, 0.0)
  h = jnp.maximum(boxes[..., 3] - boxes[..., 1] + one, 0.0)
  return w * h


@functools.partial(jax.jit, static_argnames=("fmt", "legacy_pixel"))
def box_iou(boxes1: jax.Array, boxes2: jax.Array, fmt: str = "xyxy",
            legacy_pixel: bool = False) -> jax.Array:
  """Pairwise intersection over union (Jaccard index), as torchvision's `box_iou`.

  Empty intersections count 0; a pair whose union is empty (two zero-area boxes) has IoU 0.

  Args:
    boxes1: [N, 4] in `fmt`.
    boxes2: [M, 4] in `fmt`.
    fmt: "xyxy", "xywh" or "cxcywh".
    legacy_pixel: py-faster-rcnn's `bbox_overlaps` / the VOC devkit's "+1" convention.

  Returns:
    [N, M] IoU in [0, 1].
  """
  boxes1 = convert_boxes(boxes1, fmt, "xyxy", legacy_pixel)
  boxes2 = convert_boxes(boxes2, fmt, "xyxy", legacy_pixel)
  if boxes1.ndim != 2 or boxes2.ndim != 2:
    raise ValueError(f"box_iou needs [N, 4] and [M, 4], got {boxes1.shape} and "
                     f"{boxes2.shape}")
  return pairwise_iou(boxes1[:, None, :], boxes2[None, :, :], legacy_pixel)


def box_iou_host(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
  """`box_iou` of xyxy boxes [N, 4] and [M, 4] in NumPy, for host loops over images
  whose box counts differ (the jitted `box_iou` compiles once per pair of shapes)."""
  a = np.asarray(boxes1, np.float32).reshape(-1, 1, 4)
  b = np.asarray(boxes2, np.float32).reshape(1, -1, 4)
  iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
  ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
  inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
  area = lambda x: np.maximum(x[..., 2] - x[..., 0], 0.0) * np.maximum(x[..., 3] - x[..., 1], 0.0)
  union = area(a) + area(b) - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0).astype(np.float32)


def pairwise_iou(boxes1: jax.Array, boxes2: jax.Array,
                 legacy_pixel: bool = False) -> jax.Array:
  """IoU of xyxy boxes broadcast against each other ([..., 4] and [..., 4] -> [...]).

  The one formula behind `box_iou` and the NMS functions, so they agree to the bit.
  """
  one = 1.0 if legacy_pixel else 0.0
  iw = jnp.minimum(boxes1[..., 2], boxes2[..., 2]) - jnp.maximum(boxes1[..., 0],
                                                                 boxes2[..., 0])
  ih = jnp.minimum(boxes1[..., 3], boxes2[..., 3]) - jnp.maximum(boxes1[..., 1],
                                                                 boxes2[..., 1])
  inter = jnp.maximum(iw + one, 0.0) * jnp.maximum(ih + one, 0.0)
  union = box_area(boxes1, legacy_pixel=legacy_pixel) + box_area(
      boxes2, legacy_pixel=legacy_pixel) - inter
  positive = union > 0
  return jnp.where(positive, inter / jnp.where(positive, union, 1.0), 0.0)


@functools.partial(jax.jit, static_argnames=("legacy_pixel",))
def clip_boxes(boxes: jax.Array, image_size: tuple[int, int],
               legacy_pixel: bool = False) -> jax.Array:
  """Clips xyxy boxes to an image.

  Args:
    boxes: [..., 4] xyxy.
    image_size: (height, width).
    legacy_pixel: clip to the last pixel, [0, width - 1] (py-faster-rcnn's `clip_boxes`)
      instead of [0, width] (torchvision's `clip_boxes_to_image`).

  Returns:
    [..., 4] xyxy.
  """
  if len(image_size) != 2:
    raise ValueError(f"image_size must be (height, width), got {image_size!r}")
  boxes = as_float(boxes)
  one = 1.0 if legacy_pixel else 0.0
  height, width = image_size
  x = jnp.clip(boxes[..., 0::2], 0.0, width - one)
  y = jnp.clip(boxes[..., 1::2], 0.0, height - one)
  return jnp.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1)
