"""Greedy non-maximum suppression: eager (variable length) and fixed-size (inside jit).

Semantics are torchvision's `nms` / `batched_nms`:
  - boxes are xyxy (continuous coordinates), scores any real numbers;
  - a box is suppressed when its IoU with a kept, higher-ranked box is strictly greater
    than `iou_threshold` (IoU == threshold survives);
  - kept indices come out in decreasing score order.

What torchvision leaves open is fixed here, and identical in the eager and jit versions:
  - equal scores rank by index, lowest first (a stable sort), so ties are deterministic
    (torchvision sorts unstably: its docs warn that ties may resolve differently on CPU
    and GPU);
  - NaN scores rank below every number (after -inf);
  - zero-area and inverted boxes have IoU 0 with everything (see `boxes`), so they never
    suppress and are never suppressed (unless `iou_threshold` < 0);
  - `batched_nms` never suppresses across classes: suppression also needs equal classes,
    which is exact, unlike the coordinate-offset trick whose float32 offsets round IoUs.
"""
import functools
from numbers import Real

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.detection.boxes import as_float, pairwise_iou


def nms(boxes: jax.Array, scores: jax.Array, iou_threshold: float) -> np.ndarray:
  """Indices of the boxes kept by greedy NMS, in decreasing score order (eager).

  The number kept depends on the data, so this cannot run under `jax.jit`; use
  `nms_padded` there. It runs the same compiled loop, on inputs padded (on the host) to a
  power of two, so that calls on varying numbers of boxes share a few compilations.

  Args:
    boxes: [N, 4] xyxy.
    scores: [N].
    iou_threshold: suppress when IoU > this.

  Returns:
    int32 [K] indices into `boxes`, a NumPy array (its length is known only on the host).
  """
  return _eager(boxes, scores, None, iou_threshold)


def batched_nms(boxes: jax.Array, scores: jax.Array, classes: jax.Array,
                iou_threshold: float) -> np.ndarray:
  """NMS within each class, never across classes (torchvision's `batched_nms`), eager.

  Args:
    boxes: [N, 4] xyxy.
    scores: [N].
    classes: integer class (or image) ids [N].
    iou_threshold: suppress when IoU > this, between boxes of the same class.

  Returns:
    int32 [K] indices into `boxes` (NumPy), in decreasing score order over all classes.
  """
  return _eager(boxes, scores, classes, iou_threshold)


def nms_padded(boxes: jax.Array, scores: jax.Array, iou_threshold: float | jax.Array,
               max_output: int, classes: jax.Array | None = None,
               valid: jax.Array | None = None,
               presorted: bool = False) -> tuple[jax.Array, jax.Array]:
  """Fixed-size NMS for use inside `jax.jit`: the first `max_output` boxes greedy NMS keeps.

  The result equals `nms(...)[:max_output]` (or `batched_nms` with `classes`), and the
  loop stops as soon as `max_output` boxes are kept (RPN's post-NMS top-N).

  Args:
    boxes: [N, 4] xyxy.
    scores: [N].
    iou_threshold: suppress when IoU > this; may be traced.
    max_output: a Python int, the length of the output.
    classes: optional integer ids [N]; given, suppression stays within a class.
    valid: optional bool [N]; False marks padding rows that are never kept and never
      suppress (e.g. proposals beyond a per-image count).
    presorted: the boxes already come in rank order (scores decreasing, ties by index,
      no NaN), as `lax.top_k` returns them: the sort is skipped (XLA sorts slowly on CPU).

  Returns:
    (indices, count): int32 [max_output] kept indices in decreasing score order, padded
    with -1 after the first `count`; and the int32 scalar count.
  """
  if not isinstance(max_output, int) or max_output < 0:
    raise ValueError(f"max_output must be a non-negative Python int, got {max_output!r}")
  boxes, scores = as_float(boxes), jnp.asarray(scores)
  classes = None if classes is None else jnp.asarray(classes)
  valid = None if valid is None else jnp.asarray(valid)
  n = _check_shapes(boxes, scores, classes, valid)
  check_threshold(iou_threshold)
  classes = jnp.zeros((n,), jnp.int32) if classes is None else classes
  valid = jnp.ones((n,), bool) if valid is None else valid
  return _nms_loop(boxes, scores, classes, valid, iou_threshold, max_output=max_output,
                   presorted=presorted)


def _eager(boxes, scores, classes, iou_threshold) -> np.ndarray:
  """Pads on the host to a power of two, runs the loop, trims to the count."""
  boxes = np.asarray(boxes)
  if not np.issubdtype(boxes.dtype, np.floating):
    boxes = boxes.astype(np.float32)
  scores = np.asarray(scores)
  classes = np.zeros(len(scores), np.int32) if classes is None else np.asarray(classes)
  n = _check_shapes(boxes, scores, classes, None)
  check_threshold(iou_threshold)
  size = max(64, 1 << max(n - 1, 0).bit_length())
  pad = size - n
  indices, count = _nms_loop(
      np.pad(boxes, ((0, pad), (0, 0))), np.pad(scores, (0, pad)),
      np.pad(classes, (0, pad)), np.arange(size) < n, np.float32(iou_threshold),
      max_output=size)
  return np.asarray(indices)[:int(count)]


def _check_shapes(boxes, scores, classes, valid) -> int:
  """Checks boxes [N, 4], scores [N], integer classes [N] and bool valid [N]; returns N."""
  if boxes.ndim != 2 or boxes.shape[1] != 4 or np.shape(scores) != boxes.shape[:1]:
    raise ValueError(f"need boxes [N, 4] and scores [N], got {boxes.shape} and "
                     f"{np.shape(scores)}")
  n = boxes.shape[0]
  if classes is not None and (np.shape(classes) != (n,)
                              or not jnp.issubdtype(classes.dtype, jnp.integer)):
    raise ValueError(f"classes must be integer ids [{n}], got {classes.dtype} "
                     f"{np.shape(classes)}")
  if valid is not None and (np.shape(valid) != (n,) or valid.dtype != bool):
    raise ValueError(f"valid must be bool [{n}], got {valid.dtype} {np.shape(valid)}")
  return n


def check_threshold(iou_threshold) -> None:
  """Catches thresholds given in percent; a traced threshold cannot be checked."""
  if isinstance(iou_threshold, (Real, np.ndarray)) and np.ndim(iou_threshold) == 0:
    if not 0.0 <= float(iou_threshold) <= 1.0:
      raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold!r}")


# Boxes are processed in tiles of this many, in score order (see `_nms_loop`). A tile's
# own order settles in as many [tile, tile] steps as its longest suppression chain, which
# is long where boxes crowd a few objects (a trained RPN's): 128 halves 256's time there
# (MNIST-detection RPN, 600 boxes) and matches it on benchmarks/detection.py's sets.
_TILE = 128


@functools.partial(jax.jit, static_argnames=("max_output", "presorted"))
def _nms_loop(boxes, scores, classes, valid, iou_threshold, *, max_output, presorted=False):
  """Greedy NMS in score order, a tile of boxes at a time.

  Per tile: boxes overlapping an already kept box (earlier tiles, compacted into `kept_*`)
  die; then the tile's own greedy order is resolved as a fixed point of "alive and not
  overlapped by a kept, higher-ranked box of this tile", which settles in at most tile
  steps (usually a few), each one a [tile, tile] matrix operation. The loop stops once
  `max_output` boxes are kept.
  """
  n = boxes.shape[0]
  if n == 0 or max_output == 0:
    return jnp.full((max_output,), -1, jnp.int32), jnp.int32(0)
  tile = min(_TILE, n)
  pad = -n % tile
  total, num_tiles = n + pad, (n + pad) // tile
  # Sorting the negated scores, stably, puts ties in index order and NaNs last.
  order = (jnp.arange(n, dtype=jnp.int32) if presorted
           else jnp.argsort(-scores, stable=True).astype(jnp.int32))
  tiled_boxes = jnp.pad(boxes[order], ((0, pad), (0, 0))).reshape(num_tiles, tile, 4)
  tiled_classes = jnp.pad(classes[order], (0, pad)).reshape(num_tiles, tile)
  tiled_valid = jnp.pad(valid[order], (0, pad)).reshape(num_tiles, tile)
  earlier = jnp.arange(tile)[:, None] < jnp.arange(tile)[None, :]

  def overlaps(boxes_a, classes_a, boxes_b, classes_b):  # [tile, tile]: a suppresses b
    iou = pairwise_iou(boxes_a[:, None, :], boxes_b[None, :, :])
    return (iou > iou_threshold) & (classes_a[:, None] == classes_b[None, :])

  def tile_step(state):
    t, kept_boxes, kept_classes, kept_positions, count = state
    boxes_t, classes_t = tiled_boxes[t], tiled_classes[t]

    def against_kept(carry):
      chunk, alive = carry
      real = chunk * tile + jnp.arange(tile) < count
      hit = overlaps(kept_boxes[chunk], kept_classes[chunk], boxes_t, classes_t)
      return chunk + 1, alive & ~jnp.any(hit & real[:, None], axis=0)

    _, alive = jax.lax.while_loop(lambda c: (c[0] * tile < count) & jnp.any(c[1]),
                                  against_kept, (0, tiled_valid[t]))
    within = overlaps(boxes_t, classes_t, boxes_t, classes_t) & earlier

    def settle(carry):
      keep, _ = carry
      new = alive & ~jnp.any(keep[:, None] & within, axis=0)
      return new, jnp.any(new != keep)

    keep, _ = jax.lax.while_loop(lambda c: c[1], settle, (alive, True))
    slot = jnp.where(keep, count + jnp.cumsum(keep) - 1, total)  # `total`: dropped
    kept_boxes = kept_boxes.reshape(total, 4).at[slot].set(boxes_t, mode="drop")
    kept_classes = kept_classes.reshape(total).at[slot].set(classes_t, mode="drop")
    kept_positions = kept_positions.at[slot].set(t * tile + jnp.arange(tile), mode="drop")
    return (t + 1, kept_boxes.reshape(num_tiles, tile, 4),
            kept_classes.reshape(num_tiles, tile), kept_positions, count + jnp.sum(keep))

  state = (0, jnp.zeros_like(tiled_boxes), jnp.zeros_like(tiled_classes),
           jnp.full((total,), -1, jnp.int32), 0)
  state = jax.lax.while_loop(lambda s: (s[0] < num_tiles) & (s[4] < max_output),
                             tile_step, state)
  positions, count = state[3], state[4]
  positions = jnp.pad(positions, (0, max(max_output - total, 0)), constant_values=-1)
  positions = positions[:max_output]
  indices = jnp.where(positions >= 0, order[jnp.clip(positions, 0, n - 1)], -1)
  return indices, jnp.minimum(count, max_output).astype(jnp.int32)
