"""The RPN's proposals: anchors moved by the predicted deltas, ranked by objectness, NMS'd.

py-faster-rcnn's `proposal_layer` for one image, jit-able with static shapes: the output
is always post_nms_top_n rows, padded with `valid` False. `jax.vmap` it over a batch.
"""
import functools
import typing

import jax
import jax.numpy as jnp

from jcnn.detection.box_coding import decode
from jcnn.detection.boxes import as_float, clip_boxes
from jcnn.detection.nms import check_threshold, nms_padded


class Proposals(typing.NamedTuple):
  """One image's region proposals, best first.

  Attributes:
    boxes: float32 [post_nms_top_n, 4] xyxy, zeros on padding.
    scores: float32 [post_nms_top_n] objectness probabilities (sigmoid of the logits),
      0 on padding.
    valid: bool [post_nms_top_n], False on padding (fewer boxes survived).
  """
  boxes: jax.Array
  scores: jax.Array
  valid: jax.Array


def rpn_proposals(anchors: jax.Array, objectness: jax.Array, deltas: jax.Array,
                  image_size: jax.Array, *, pre_nms_top_n: int, post_nms_top_n: int,
                  nms_threshold: float = 0.7, min_size: float = 0.0) -> Proposals:
  """Proposals of one image, in py-faster-rcnn's order of steps.

  Decode every anchor's deltas (weights 1), clip to the image, drop boxes with a side
  below min_size, keep the pre_nms_top_n best by objectness, NMS at nms_threshold, return
  the first post_nms_top_n. (torchvision takes its top-n before clipping and removing
  small boxes, and uses min_size 1e-3.) Ranking uses the logits, whose order the
  sigmoid keeps but whose float32 values it can merge near 1.

  Deliberate differences: coordinates are continuous, so a side is x2 - x1 (not + 1),
  and min_size is in network-input pixels (py-faster-rcnn scales RPN_MIN_SIZE = 16 by
  the image's resize factor; pass min_size = 16 * scale for that).

  Args:
    anchors: [A, 4] xyxy.
    objectness: [A] logits, positive meaning object.
    deltas: [A, 4] the RPN's (tx, ty, tw, th) per anchor.
    image_size: (height, width) of the image content; may be traced.
    pre_nms_top_n: boxes entering NMS (RPN_PRE_NMS_TOP_N), at most A are.
    post_nms_top_n: proposals returned (RPN_POST_NMS_TOP_N).
    nms_threshold: IoU above which a lower-ranked box is suppressed (RPN_NMS_THRESH).
    min_size: the smallest side kept, in pixels.

  Returns:
    Proposals.
  """
  anchors = as_float(anchors, "anchors")
  deltas = as_float(deltas, "deltas")
  objectness = jnp.asarray(objectness)
  if anchors.ndim != 2 or deltas.shape != anchors.shape or objectness.shape != (
      anchors.shape[0],):
    raise ValueError(f"need anchors [A, 4], objectness [A] and deltas [A, 4], got "
                     f"{anchors.shape}, {objectness.shape} and {deltas.shape}")
  for name, value in (("pre_nms_top_n", pre_nms_top_n), ("post_nms_top_n", post_nms_top_n)):
    if not isinstance(value, int) or value < 1:
      raise ValueError(f"{name} must be a positive Python int, got {value!r}")
  check_threshold(nms_threshold)
  return _rpn_proposals(anchors, objectness, deltas, jnp.asarray(image_size),
                        pre_nms_top_n=min(pre_nms_top_n, anchors.shape[0]),
                        post_nms_top_n=post_nms_top_n, nms_threshold=float(nms_threshold),
                        min_size=float(min_size))


@functools.partial(jax.jit, static_argnames=("pre_nms_top_n", "post_nms_top_n",
                                             "nms_threshold", "min_size"))
def _rpn_proposals(anchors, objectness, deltas, image_size, *, pre_nms_top_n,
                   post_nms_top_n, nms_threshold, min_size):
  size = image_size.astype(jnp.float32)
  boxes = clip_boxes(decode(deltas.astype(jnp.float32), anchors.astype(jnp.float32)),
                     (size[0], size[1]))
  big = ((boxes[:, 2] - boxes[:, 0] >= min_size) & (boxes[:, 3] - boxes[:, 1] >= min_size))
  objectness = objectness.astype(jnp.float32)
  # NaN ranks last (as in nms), and top_k's order (ties by index) is then NMS's own.
  logits = jnp.where(big & ~jnp.isnan(objectness), objectness, -jnp.inf)
  top_logits, top = jax.lax.top_k(logits, pre_nms_top_n)
  top_boxes = boxes[top]
  kept, count = nms_padded(top_boxes, top_logits, nms_threshold, post_nms_top_n,
                           valid=big[top], presorted=True)
  valid = jnp.arange(post_nms_top_n) < count
  kept = jnp.maximum(kept, 0)
  return Proposals(jnp.where(valid[:, None], top_boxes[kept], 0.0),
                   jnp.where(valid, jax.nn.sigmoid(top_logits[kept]), 0.0), valid)
