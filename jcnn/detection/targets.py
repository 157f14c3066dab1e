"""Faster R-CNN's training targets: which anchors and proposals are positive, which are
background, and where their boxes should move.

`anchor_targets` is py-faster-rcnn's `anchor_target_layer` (the RPN's targets) and
`proposal_targets` its `proposal_target_layer` (the detection head's). Both work on one
image, are pure and jit-able with static shapes: ground truth comes padded, with a mask,
and the reference's random draws without replacement (`npr.choice`) become a fixed-size
top-k of uniform random scores over the eligible rows, so the counts are exactly the
reference's. `jax.vmap` them over a batch.

Where we differ from py-faster-rcnn on purpose:
  - coordinates are continuous (torchvision): IoUs and regression targets use widths
    x2 - x1, not x2 - x1 + 1, and an anchor lies inside a w-wide image when x2 <= w
    (py-faster-rcnn: x2 < w, its last pixel being w - 1);
  - a ground-truth box that overlaps no eligible anchor at all makes no anchor positive
    (the reference marks every anchor whose IoU equals that gt's maximum, 0, positive);
  - an image without ground truth is allowed: nothing is positive, everything eligible
    is negative (background), as in torchvision.
"""
import functools
import typing

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.detection.box_coding import check_weights, encode
from jcnn.detection.boxes import as_float, box_iou


class AnchorTargets(typing.NamedTuple):
  """The RPN's targets for the anchors of one image.

  Attributes:
    labels: int32 [A]: 1 positive, 0 negative, -1 ignored (not sampled, between the
      thresholds, or crossing the image border).
    box_targets: float32 [A, 4] `encode(gt_boxes[matched], anchors)` on sampled positives,
      0 elsewhere.
    matched: int32 [A] index of the anchor's best-overlapping valid ground-truth box
      (0 when the image has none).
  """
  labels: jax.Array
  box_targets: jax.Array
  matched: jax.Array


class RoiTargets(typing.NamedTuple):
  """The detection head's sampled RoIs of one image and their targets.

  Attributes:
    rois: float32 [num_samples, 4] xyxy: foreground first, then background, then padding
      (zeros).
    labels: int32 [num_samples]: 0 background (and padding), c + 1 for foreground class c.
    box_targets: float32 [num_samples, 4] `encode(matched gt, rois, weights)` on
      foreground rows, 0 elsewhere.
    valid: bool [num_samples]: False on padding, when the image has fewer candidates
      than num_samples.
  """
  rois: jax.Array
  labels: jax.Array
  box_targets: jax.Array
  valid: jax.Array


def anchor_targets(anchors: jax.Array, gt_boxes: jax.Array, gt_mask: jax.Array,
                   image_size: jax.Array, key: jax.Array, *, positive_iou: float = 0.7,
                   negative_iou: float = 0.3, num_samples: int = 256,
                   positive_fraction: float = 0.5,
                   allowed_border: float = 0.0) -> AnchorTargets:
  """Labels and regression targets of one image's anchors (py-faster-rcnn's RPN targets).

  Anchors not fully inside [-b, -b, w + b, h + b] (b = allowed_border) are ignored.
  Among the others: those whose best IoU is below `negative_iou` are negative; then each
  valid gt's best anchors (every anchor whose IoU equals that gt's maximum, if above 0)
  are positive, so every object gets an anchor; then those with an IoU >= positive_iou.
  At most int(num_samples * positive_fraction) positives are kept, at random; negatives,
  at random, fill the rest of num_samples.

  Args:
    anchors: [A, 4] xyxy.
    gt_boxes: [G, 4] xyxy ground truth, padded.
    gt_mask: bool [G], False on padding.
    image_size: (height, width) of the image content; may be traced.
    key: a PRNG key for the sampling.
    positive_iou: an IoU >= this makes an anchor positive.
    negative_iou: a best IoU below this makes an anchor negative.
    num_samples: anchors sampled per image (RPN_BATCHSIZE).
    positive_fraction: the most positives can be of num_samples (RPN_FG_FRACTION).
    allowed_border: how far (pixels) an anchor may reach beyond the image.

  Returns:
    AnchorTargets.
  """
  anchors = as_float(anchors, "anchors")
  gt_boxes, gt_mask, _ = _ground_truth(gt_boxes, gt_mask)
  if anchors.ndim != 2:
    raise ValueError(f"anchors must be [A, 4], got {anchors.shape}")
  _check_fraction("positive_fraction", positive_fraction)
  _check_count("num_samples", num_samples)
  if not 0.0 <= negative_iou <= positive_iou <= 1.0:
    raise ValueError(f"need 0 <= negative_iou <= positive_iou <= 1, got {negative_iou!r}"
                     f" and {positive_iou!r}")
  return _anchor_targets(anchors, gt_boxes, gt_mask, jnp.asarray(image_size), key,
                         positive_iou=float(positive_iou), negative_iou=float(negative_iou),
                         num_samples=num_samples,
                         num_positive=int(num_samples * positive_fraction),
                         allowed_border=float(allowed_border))


@functools.partial(jax.jit, static_argnames=("positive_iou", "negative_iou", "num_samples",
                                             "num_positive", "allowed_border"))
def _anchor_targets(anchors, gt_boxes, gt_mask, image_size, key, *, positive_iou,
                    negative_iou, num_samples, num_positive, allowed_border):
  height, width = image_size[0].astype(jnp.float32), image_size[1].astype(jnp.float32)
  b = allowed_border
  inside = ((anchors[:, 0] >= -b) & (anchors[:, 1] >= -b) & (anchors[:, 2] <= width + b)
            & (anchors[:, 3] <= height + b))
  # -1 marks pairs that take no part: anchors across the border and padding gts.
  iou = jnp.where(inside[:, None] & gt_mask[None, :], box_iou(anchors, gt_boxes), -1.0)
  matched = jnp.argmax(iou, axis=1).astype(jnp.int32)
  best_iou = jnp.max(iou, axis=1)
  gt_best = jnp.max(iou, axis=0)
  best_for_a_gt = jnp.any((iou == gt_best[None, :]) & (gt_best[None, :] > 0), axis=1)
  positive = best_for_a_gt | (best_iou >= positive_iou)
  negative = inside & (best_iou < negative_iou) & ~positive

  key_positive, key_negative = jax.random.split(key)
  positive = _subset_mask(key_positive, positive, num_positive, num_positive)
  negative = _subset_mask(key_negative, negative, num_samples,
                          num_samples - jnp.sum(positive))
  labels = jnp.where(positive, 1, jnp.where(negative, 0, -1)).astype(jnp.int32)
  box_targets = jnp.where(positive[:, None], encode(gt_boxes[matched], anchors), 0.0)
  return AnchorTargets(labels, box_targets.astype(jnp.float32), matched)


def proposal_targets(proposals: jax.Array, proposal_valid: jax.Array, gt_boxes: jax.Array,
                     gt_labels: jax.Array, gt_mask: jax.Array, key: jax.Array, *,
                     num_samples: int = 128, fg_fraction: float = 0.25,
                     fg_iou: float = 0.5, bg_iou_high: float = 0.5, bg_iou_low: float = 0.0,
                     weights=(10.0, 10.0, 5.0, 5.0)) -> RoiTargets:
  """Samples one image's RoIs for the detection head (py-faster-rcnn's proposal targets).

  The valid gt boxes join the proposals as candidates, so the head always sees a few
  perfect foreground RoIs. A candidate is foreground when its best IoU is >= fg_iou,
  background when it lies in [bg_iou_low, bg_iou_high) (the IoU with no gt at all
  counting 0). min(round(fg_fraction * num_samples), #fg) foreground RoIs are drawn at
  random, then background RoIs up to num_samples; if there are not enough, the rest are
  padding with `valid` False.

  Args:
    proposals: [P, 4] xyxy, e.g. `rpn_proposals(...).boxes`.
    proposal_valid: bool [P], False on padding.
    gt_boxes: [G, 4] xyxy ground truth, padded.
    gt_labels: int [G] 0-based foreground classes.
    gt_mask: bool [G], False on padding.
    key: a PRNG key for the sampling.
    num_samples: RoIs per image (BATCH_SIZE).
    fg_fraction: the foreground share wanted (FG_FRACTION).
    fg_iou: foreground from this IoU (FG_THRESH).
    bg_iou_high: background below this IoU (BG_THRESH_HI).
    bg_iou_low: background from this IoU (BG_THRESH_LO).
    weights: (wx, wy, ww, wh) of the box coding; (10, 10, 5, 5) are py-faster-rcnn's
      BBOX_NORMALIZE_STDS (0.1, 0.1, 0.2, 0.2) as multipliers.

  Returns:
    RoiTargets.
  """
  proposals = as_float(proposals, "proposals")
  proposal_valid = jnp.asarray(proposal_valid)
  if proposals.ndim != 2 or proposal_valid.shape != proposals.shape[:1]:
    raise ValueError(f"need proposals [P, 4] and proposal_valid [P], got "
                     f"{proposals.shape} and {proposal_valid.shape}")
  gt_boxes, gt_mask, gt_labels = _ground_truth(gt_boxes, gt_mask, gt_labels)
  _check_count("num_samples", num_samples)
  _check_fraction("fg_fraction", fg_fraction)
  if not 0.0 <= bg_iou_low <= bg_iou_high <= 1.0 or not 0.0 <= fg_iou <= 1.0:
    raise ValueError(f"need 0 <= bg_iou_low <= bg_iou_high <= 1 and 0 <= fg_iou <= 1, got "
                     f"{bg_iou_low!r}, {bg_iou_high!r}, {fg_iou!r}")
  return _proposal_targets(
      proposals, proposal_valid.astype(bool), gt_boxes, gt_labels, gt_mask, key, num_samples=num_samples,
      num_fg=int(np.round(fg_fraction * num_samples)), fg_iou=float(fg_iou),
      bg_iou_high=float(bg_iou_high), bg_iou_low=float(bg_iou_low),
      weights=check_weights(weights))


@functools.partial(jax.jit, static_argnames=("num_samples", "num_fg", "fg_iou",
                                             "bg_iou_high", "bg_iou_low", "weights"))
def _proposal_targets(proposals, proposal_valid, gt_boxes, gt_labels, gt_mask, key, *,
                      num_samples, num_fg, fg_iou, bg_iou_high, bg_iou_low, weights):
  candidates = jnp.concatenate([proposals, gt_boxes.astype(proposals.dtype)])
  valid = jnp.concatenate([proposal_valid, gt_mask])
  iou = jnp.where(gt_mask[None, :], box_iou(candidates, gt_boxes), -1.0)
  assigned = jnp.argmax(iou, axis=1)
  best_iou = jnp.maximum(jnp.max(iou, axis=1), 0.0)
  foreground = valid & (best_iou >= fg_iou)
  background = valid & (best_iou < bg_iou_high) & (best_iou >= bg_iou_low)

  key_fg, key_bg = jax.random.split(key)
  fg_rows, fg_taken = _subset(key_fg, foreground, num_fg, num_fg)
  num_fg_taken = jnp.sum(fg_taken)
  bg_rows, bg_taken = _subset(key_bg, background, num_samples, num_samples - num_fg_taken)
  # Taken rows are a prefix of each draw; place foreground first, then background.
  slots = jnp.concatenate([jnp.where(fg_taken, jnp.arange(fg_rows.size), num_samples),
                           jnp.where(bg_taken, num_fg_taken + jnp.arange(bg_rows.size),
                                     num_samples)])
  rows = jnp.zeros((num_samples,), jnp.int32).at[slots].set(
      jnp.concatenate([fg_rows, bg_rows]), mode="drop")
  is_fg = jnp.zeros((num_samples,), bool).at[slots].set(
      jnp.concatenate([fg_taken, jnp.zeros_like(bg_taken)]), mode="drop")
  sampled = jnp.arange(num_samples) < num_fg_taken + jnp.sum(bg_taken)

  rois = jnp.where(sampled[:, None], candidates[rows], 0.0)
  gt = assigned[rows]
  labels = jnp.where(is_fg, gt_labels[gt] + 1, 0).astype(jnp.int32)
  box_targets = jnp.where(is_fg[:, None], encode(gt_boxes[gt], rois, weights), 0.0)
  return RoiTargets(rois.astype(jnp.float32), labels, box_targets.astype(jnp.float32),
                    sampled)


def _subset(key, eligible, max_count, count):
  """A uniformly random subset of min(count, #eligible) of the eligible rows.

  Args:
    key: a PRNG key.
    eligible: bool [N].
    max_count: a Python int, the most rows ever wanted (the size of the draw).
    count: how many are wanted, <= max_count; may be traced.

  Returns:
    (rows, taken): int32 [min(max_count, N)] distinct rows in random order, and bool
    [min(max_count, N)] marking the chosen ones, a prefix.
  """
  k = min(max_count, eligible.shape[0])
  if k == 0:
    return jnp.zeros((0,), jnp.int32), jnp.zeros((0,), bool)
  # Eligible rows score in [0, 1), the others -1, so the eligible ones come first.
  scores = jnp.where(eligible, jax.random.uniform(key, eligible.shape), -1.0)
  _, rows = jax.lax.top_k(scores, k)
  return rows.astype(jnp.int32), eligible[rows] & (jnp.arange(k) < count)


def _subset_mask(key, eligible, max_count, count):
  """`_subset` as a bool mask [N] over all rows."""
  rows, taken = _subset(key, eligible, max_count, count)
  return jnp.zeros(eligible.shape, bool).at[rows].set(taken)


def _ground_truth(gt_boxes, gt_mask, gt_labels=None):
  """Checks gt boxes [G, 4], mask [G] and labels [G]; an empty G becomes one padding row
  (an axis of size 0 has no maximum)."""
  gt_boxes = as_float(gt_boxes, "gt_boxes")
  gt_mask = jnp.asarray(gt_mask)
  gt_labels = jnp.zeros(gt_mask.shape, jnp.int32) if gt_labels is None else jnp.asarray(
      gt_labels)
  if (gt_boxes.ndim != 2 or gt_mask.shape != gt_boxes.shape[:1]
      or gt_labels.shape != gt_mask.shape):
    raise ValueError(f"need gt_boxes [G, 4], gt_mask [G] and gt_labels [G], got "
                     f"{gt_boxes.shape}, {gt_mask.shape} and {gt_labels.shape}")
  if gt_boxes.shape[0] == 0:
    return (jnp.zeros((1, 4), gt_boxes.dtype), jnp.zeros((1,), bool),
            jnp.zeros((1,), jnp.int32))
  return gt_boxes, gt_mask.astype(bool), gt_labels.astype(jnp.int32)


def _check_count(name, value):
  if not isinstance(value, int) or value < 1:
    raise ValueError(f"{name} must be a positive Python int, got {value!r}")


def _check_fraction(name, value):
  if not 0.0 <= value <= 1.0:
    raise ValueError(f"{name} must be in [0, 1], got {value!r}")
