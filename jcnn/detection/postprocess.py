"""Faster R-CNN's detections: the head's class scores and boxes, thresholded and NMS'd.

torchvision's `RoIHeads.postprocess_detections` for one image, jit-able with static
shapes: the output is always max_detections rows, padded with `valid` False. `jax.vmap`
it over a batch.
"""
import functools
import typing

import jax
import jax.numpy as jnp

from jcnn.detection.box_coding import check_weights, decode
from jcnn.detection.boxes import as_float, clip_boxes
from jcnn.detection.nms import check_threshold, nms_padded

# torchvision's `remove_small_boxes(boxes, min_size=1e-2)`: drops boxes clipped to nothing.
_MIN_SIDE = 1e-2


class Detections(typing.NamedTuple):
  """One image's detections, best first.

  Attributes:
    boxes: float32 [max_detections, 4] xyxy, zeros on padding.
    scores: float32 [max_detections] class probabilities, 0 on padding.
    labels: int32 [max_detections] 0-based foreground classes, 0 on padding.
    valid: bool [max_detections], False on padding.
  """
  boxes: jax.Array
  scores: jax.Array
  labels: jax.Array
  valid: jax.Array


def detect(rois: jax.Array, roi_valid: jax.Array, class_logits: jax.Array,
           box_deltas: jax.Array, image_size: jax.Array, *,
           weights=(10.0, 10.0, 5.0, 5.0), score_threshold: float = 0.05,
           nms_threshold: float = 0.3, max_detections: int = 100) -> Detections:
  """Final detections of one image (torchvision's `postprocess_detections`).

  Softmax over the classes; each RoI's box for each class decoded from that class's
  deltas and clipped to the image; background dropped; every (RoI, class) pair with a
  score > score_threshold and both sides >= 1e-2 is a candidate; NMS within each class;
  the best max_detections by score. Equal scores rank by RoI, then class (torchvision's
  sort leaves ties unspecified).

  Args:
    rois: [R, 4] xyxy, e.g. `rpn_proposals(...).boxes`.
    roi_valid: bool [R], False on padding rows (never detected).
    class_logits: [R, C + 1] logits, class 0 background.
    box_deltas: [R, C + 1, 4] class-specific (tx, ty, tw, th).
    image_size: (height, width) of the image content; may be traced.
    weights: (wx, wy, ww, wh) the head's targets were encoded with.
    score_threshold: candidates need a probability above this.
    nms_threshold: IoU above which a lower-scored box of the same class is suppressed.
    max_detections: the length of the output.

  Returns:
    Detections, labels 0-based (torchvision's label - 1).
  """
  rois = as_float(rois, "rois")
  roi_valid = jnp.asarray(roi_valid)
  class_logits = jnp.asarray(class_logits)
  box_deltas = as_float(box_deltas, "box_deltas")
  count = rois.shape[0] if rois.ndim == 2 else -1
  if (roi_valid.shape != (count,) or class_logits.ndim != 2
      or class_logits.shape[0] != count or class_logits.shape[1] < 2
      or box_deltas.shape != class_logits.shape + (4,)):
    raise ValueError(f"need rois [R, 4], roi_valid [R], class_logits [R, C + 1] (C >= 1) "
                     f"and box_deltas [R, C + 1, 4], got {rois.shape}, {roi_valid.shape}, "
                     f"{class_logits.shape} and {box_deltas.shape}")
  if not isinstance(max_detections, int) or max_detections < 1:
    raise ValueError(f"max_detections must be a positive Python int, got "
                     f"{max_detections!r}")
  check_threshold(nms_threshold)
  return _detect(rois, roi_valid.astype(bool), class_logits, box_deltas,
                 jnp.asarray(image_size), weights=check_weights(weights),
                 score_threshold=float(score_threshold), nms_threshold=float(nms_threshold),
                 max_detections=max_detections)


@functools.partial(jax.jit, static_argnames=("weights", "score_threshold", "nms_threshold",
                                             "max_detections"))
def _detect(rois, roi_valid, class_logits, box_deltas, image_size, *, weights,
            score_threshold, nms_threshold, max_detections):
  size = image_size.astype(jnp.float32)
  scores = jax.nn.softmax(class_logits.astype(jnp.float32), axis=-1)[:, 1:]
  boxes = decode(box_deltas[:, 1:].astype(jnp.float32),
                 rois.astype(jnp.float32)[:, None, :], weights)
  boxes = clip_boxes(boxes, (size[0], size[1]))
  labels = jnp.broadcast_to(jnp.arange(scores.shape[1], dtype=jnp.int32), scores.shape)
  # (RoI, class) pairs, RoI-major as torchvision flattens them.
  boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
  keep = (jnp.repeat(roi_valid, class_logits.shape[1] - 1) & (scores > score_threshold)
          & (boxes[:, 2] - boxes[:, 0] >= _MIN_SIDE)
          & (boxes[:, 3] - boxes[:, 1] >= _MIN_SIDE))
  kept, count = nms_padded(boxes, jnp.where(keep, scores, -jnp.inf), nms_threshold,
                           max_detections, classes=labels, valid=keep)
  valid = jnp.arange(max_detections) < count
  kept = jnp.maximum(kept, 0)
  return Detections(jnp.where(valid[:, None], boxes[kept], 0.0),
                    jnp.where(valid, scores[kept], 0.0),
                    jnp.where(valid, labels[kept], 0).astype(jnp.int32), valid)
