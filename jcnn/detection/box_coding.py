"""R-CNN's box regression targets: (tx, ty, tw, th) of a box relative to an anchor/proposal.

  tx = wx * (gx - ax) / aw    ty = wy * (gy - ay) / ah
  tw = ww * log(gw / aw)      th = wh * log(gh / ah)

with (x, y) box centers and (w, h) sizes (Girshick et al. 2014, Appendix C), and optional
per-coordinate weights (Fast R-CNN's (10, 10, 5, 5) normalisation is weights (10, 10, 5, 5)).
The default follows torchvision's `BoxCoder` (continuous coordinates); `legacy_pixel=True`
follows py-faster-rcnn's `bbox_transform` (widths x2 - x1 + 1), with Detectron's inverse
whose x2 = center + w / 2 - 1, so that decoding an encoding returns the box exactly
(py-faster-rcnn's own `bbox_transform_inv` omits the "- 1", one pixel off at x2, y2).
"""
import functools
import math

import jax
import jax.numpy as jnp

from jcnn.detection.boxes import as_float

# torchvision's and Detectron's bound on decoded log-scale factors: exp(dw) <= 1000 / 16.
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def _centers_sizes(boxes, legacy_pixel):
  one = 1.0 if legacy_pixel else 0.0
  widths = boxes[..., 2] - boxes[..., 0] + one
  heights = boxes[..., 3] - boxes[..., 1] + one
  return boxes[..., 0] + 0.5 * widths, boxes[..., 1] + 0.5 * heights, widths, heights


def check_weights(weights) -> tuple[float, float, float, float]:
  """The box-coding weights (wx, wy, ww, wh) as four floats; a ValueError otherwise."""
  if len(weights) != 4:
    raise ValueError(f"weights must be (wx, wy, ww, wh), got {weights!r}")
  return tuple(float(w) for w in weights)


def encode(boxes: jax.Array, anchors: jax.Array, weights=(1.0, 1.0, 1.0, 1.0),
           legacy_pixel: bool = False) -> jax.Array:
  """Regression targets that move `anchors` onto `boxes` (torchvision's `encode_boxes`).

  Args:
    boxes: [..., 4] xyxy targets (ground truth).
    anchors: [..., 4] xyxy anchors or proposals, broadcastable against `boxes`.
    weights: (wx, wy, ww, wh) multipliers.
    legacy_pixel: py-faster-rcnn's "+1" widths.

  Returns:
    [..., 4] (tx, ty, tw, th).
  """
  return _encode(boxes, anchors, weights=check_weights(weights),
                 legacy_pixel=bool(legacy_pixel))


@functools.partial(jax.jit, static_argnames=("weights", "legacy_pixel"))
def _encode(boxes, anchors, *, weights, legacy_pixel):
  wx, wy, ww, wh = weights
  gx, gy, gw, gh = _centers_sizes(as_float(boxes), legacy_pixel)
  ax, ay, aw, ah = _centers_sizes(as_float(anchors, "anchors"), legacy_pixel)
  return jnp.stack([wx * (gx - ax) / aw, wy * (gy - ay) / ah, ww * jnp.log(gw / aw),
                    wh * jnp.log(gh / ah)], axis=-1)


def decode(deltas: jax.Array, anchors: jax.Array, weights=(1.0, 1.0, 1.0, 1.0),
           clamp: float | None = BBOX_XFORM_CLIP, legacy_pixel: bool = False) -> jax.Array:
  """Applies regression deltas to anchors (torchvision's `BoxCoder.decode_single`).

  Args:
    deltas: [..., 4] (tx, ty, tw, th).
    anchors: [..., 4] xyxy, broadcastable against `deltas`.
    weights: the (wx, wy, ww, wh) that `encode` used.
    clamp: upper bound on tw / ww and th / wh before exp, so an untrained head cannot
      overflow; None for no bound.
    legacy_pixel: py-faster-rcnn's "+1" widths (with Detectron's exact inverse).

  Returns:
    [..., 4] xyxy boxes.
  """
  return _decode(deltas, anchors, weights=check_weights(weights),
                 clamp=None if clamp is None else float(clamp),
                 legacy_pixel=bool(legacy_pixel))


@functools.partial(jax.jit, static_argnames=("weights", "clamp", "legacy_pixel"))
def _decode(deltas, anchors, *, weights, clamp, legacy_pixel):
  wx, wy, ww, wh = weights
  deltas = as_float(deltas, "deltas")
  ax, ay, aw, ah = _centers_sizes(as_float(anchors, "anchors"), legacy_pixel)
  dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
  dw, dh = deltas[..., 2] / ww, deltas[..., 3] / wh
  if clamp is not None:
    dw, dh = jnp.minimum(dw, clamp), jnp.minimum(dh, clamp)
  cx, cy = dx * aw + ax, dy * ah + ay
  half_w, half_h = 0.5 * jnp.exp(dw) * aw, 0.5 * jnp.exp(dh) * ah
  one = 1.0 if legacy_pixel else 0.0
  return jnp.stack([cx - half_w, cy - half_h, cx + half_w - one, cy + half_h - one],
                   axis=-1)
