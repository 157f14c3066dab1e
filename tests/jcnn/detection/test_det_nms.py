"""NMS: hand-made cases with torchvision's rules, and a NumPy reference on random sets."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import detection


def _numpy_nms(boxes, scores, threshold, classes=None):
  """Greedy NMS as torchvision documents it (IoU > threshold suppresses, same class only),
  with the tie rules of jcnn: a stable sort of -scores (index order, NaN last), IoU 0 for
  an empty union."""
  boxes = np.asarray(boxes, np.float32)
  classes = np.zeros(len(boxes), int) if classes is None else np.asarray(classes)
  order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
  w = np.maximum(boxes[:, 2] - boxes[:, 0], np.float32(0))
  h = np.maximum(boxes[:, 3] - boxes[:, 1], np.float32(0))
  areas = w * h
  alive = np.ones(len(boxes), bool)
  keep = []
  for i in order:
    if not alive[i]:
      continue
    keep.append(i)
    alive[i] = False
    iw = np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0])
    ih = np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1])
    inter = np.maximum(iw, np.float32(0)) * np.maximum(ih, np.float32(0))
    union = areas[i] + areas - inter
    with np.errstate(invalid="ignore", divide="ignore"):
      iou = np.where(union > 0, inter / union, np.float32(0))
    alive &= ~((iou > np.float32(threshold)) & (classes == classes[i]))
  return np.asarray(keep, np.int64)


def test_iou_equal_to_threshold_survives():
  # IoU of these two is exactly 2 / 4 = 0.5 (torchvision: "IoU > iou_threshold" suppresses).
  boxes = [[0, 0, 3, 1], [1, 0, 4, 1]]
  np.testing.assert_array_equal(detection.nms(boxes, [0.9, 0.8], 0.5), [0, 1])
  np.testing.assert_array_equal(detection.nms(boxes, [0.9, 0.8], 0.49), [0])
  np.testing.assert_array_equal(detection.nms(boxes, [0.8, 0.9], 0.49), [1])


def test_equal_scores_keep_the_lower_index():
  boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]]
  np.testing.assert_array_equal(detection.nms(boxes, [0.5, 0.5, 0.5, 0.5], 0.3), [0, 3])
  np.testing.assert_array_equal(detection.nms(boxes, [0.5, 0.7, 0.5, 0.5], 0.3), [1, 3])


def test_zero_area_boxes_never_suppress_and_nan_scores_rank_last():
  boxes = [[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 10], [0, 0, 10, 10]]
  np.testing.assert_array_equal(detection.nms(boxes, [0.9, 0.8, 0.7, np.nan], 0.5),
                                [0, 1, 2])
  np.testing.assert_array_equal(detection.nms(boxes, [0.9, 0.8, np.nan, 0.7], 0.5),
                                [0, 1, 3])


def test_batched_nms_never_suppresses_across_classes():
  boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]]
  scores = [0.9, 0.8, 0.7, 0.95]
  np.testing.assert_array_equal(detection.batched_nms(boxes, scores, [0, 1, 0, 1], 0.5),
                                [3, 0])
  np.testing.assert_array_equal(detection.batched_nms(boxes, scores, [0, 1, 2, 3], 0.5),
                                [3, 0, 1, 2])


def test_empty_inputs():
  assert detection.nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
  indices, count = detection.nms_padded(np.zeros((0, 4)), np.zeros(0), 0.5, 3)
  np.testing.assert_array_equal(indices, [-1, -1, -1])
  assert int(count) == 0


def test_padded_output_and_valid_mask():
  boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]
  indices, count = detection.nms_padded(boxes, [0.9, 0.8, 0.7, 0.6], 0.5, 6)
  np.testing.assert_array_equal(indices, [0, 2, 3, -1, -1, -1])
  assert int(count) == 3
  indices, count = detection.nms_padded(boxes, [0.9, 0.8, 0.7, 0.6], 0.5, 6,
                                        valid=jnp.array([False, True, True, True]))
  np.testing.assert_array_equal(indices, [1, 2, 3, -1, -1, -1])  # box 0 is padding
  assert int(count) == 3


def test_threshold_in_percent_is_rejected():
  with pytest.raises(ValueError, match="iou_threshold"):
    detection.nms([[0, 0, 1, 1]], [1.0], 50)


def _random_set(rng, n):
  """Integer boxes with duplicates, zero-area boxes and tied scores."""
  corners = rng.integers(0, 12, (n, 2))
  boxes = np.concatenate([corners, corners + rng.integers(0, 7, (n, 2))], 1)
  if n > 2:
    boxes[rng.integers(0, n, n // 4)] = boxes[0]
  scores = rng.integers(0, 5, n) / 4
  return boxes.astype(np.float32), scores.astype(np.float32)


def test_matches_numpy_on_1000_random_sets_eager_and_jit():
  rng = np.random.default_rng(0)
  size = 48
  padded = jax.jit(lambda b, s, c, v, t: detection.nms_padded(b, s, t, 16, c, v))
  for trial in range(1000):
    n = int(rng.integers(0, size + 1))
    boxes, scores = _random_set(rng, n)
    classes = rng.integers(0, 3, n)
    threshold = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0]))
    expected = _numpy_nms(boxes, scores, threshold)
    np.testing.assert_array_equal(detection.nms(boxes, scores, threshold), expected,
                                  err_msg=f"trial {trial}")
    expected_batched = _numpy_nms(boxes, scores, threshold, classes)
    np.testing.assert_array_equal(detection.batched_nms(boxes, scores, classes, threshold),
                                  expected_batched, err_msg=f"trial {trial}")
    pad = size - n
    indices, count = padded(np.pad(boxes, ((0, pad), (0, 0))), np.pad(scores, (0, pad)),
                            np.pad(classes, (0, pad)), np.arange(size) < n,
                            np.float32(threshold))
    top = expected_batched[:16]
    assert int(count) == len(top)
    np.testing.assert_array_equal(indices, np.pad(top, (0, 16 - len(top)),
                                                  constant_values=-1))


def test_matches_numpy_across_tiles():
  """Thousands of boxes span several of the loop's tiles (`nms._TILE` boxes each)."""
  rng = np.random.default_rng(1)
  n = 1500
  centers = rng.uniform(0, 400, (20, 2))[rng.integers(0, 20, n)] + rng.normal(0, 40, (n, 2))
  sizes = rng.uniform(20, 80, (n, 2))
  boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], 1).astype(np.float32)
  scores = rng.random(n).astype(np.float32)
  expected = _numpy_nms(boxes, scores, 0.6)
  assert 300 < len(expected) < n  # kept boxes in several tiles, suppressions across them
  np.testing.assert_array_equal(detection.nms(boxes, scores, 0.6), expected)
  indices, count = jax.jit(detection.nms_padded, static_argnums=3)(boxes, scores, 0.6, 280)
  np.testing.assert_array_equal(indices[:int(count)], expected[:280])


def test_presorted_skips_the_sort_and_keeps_the_same_boxes():
  """On `lax.top_k`'s output (ties by index, as the stable sort puts them) both agree."""
  rng = np.random.default_rng(2)
  boxes, _ = _random_set(rng, 300)
  scores = rng.integers(0, 6, 300).astype(np.float32)  # many ties
  top_scores, top = jax.lax.top_k(scores, 200)
  padded = jax.jit(detection.nms_padded, static_argnums=3, static_argnames="presorted")
  expected = padded(boxes[top], top_scores, 0.5, 200)
  assert 10 < int(expected[1]) < 200
  for found, wanted in zip(padded(boxes[top], top_scores, 0.5, 200, presorted=True), expected):
    np.testing.assert_array_equal(found, wanted)
  sorts = lambda **kw: " sort[" in str(jax.make_jaxpr(
      lambda b, s: detection.nms_padded(b, s, 0.5, 200, **kw))(boxes[top], top_scores))
  assert sorts() and not sorts(presorted=True)
