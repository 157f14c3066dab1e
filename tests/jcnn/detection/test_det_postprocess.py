"""Detections: a NumPy copy of torchvision's RoIHeads.postprocess_detections on random
inputs, and hand-built cases for the threshold, max_detections and per-class NMS."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import detection

SIZE = jnp.array([100, 100], jnp.int32)
WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def _numpy_batched_nms(boxes, scores, classes, threshold):
  """torchvision's batched_nms: greedy, IoU > threshold suppresses, same class only."""
  areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  alive = np.ones(len(boxes), bool)
  keep = []
  for i in np.argsort(-scores, kind="stable"):
    if not alive[i]:
      continue
    keep.append(i)
    iw = np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0])
    ih = np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    iou = inter / (areas[i] + areas - inter)
    alive &= ~((iou > threshold) & (classes == classes[i]))
    alive[i] = False
  return np.asarray(keep, np.int64)


def _torchvision_postprocess(rois, logits, deltas, image_size, score_threshold,
                             nms_threshold, max_detections):
  """postprocess_detections for one image, float32 as in torch (BoxCoder.decode_single,
  clip_boxes_to_image, remove_small_boxes(1e-2), batched_nms); labels made 0-based."""
  f = np.float32
  shifted = np.exp(logits - logits.max(-1, keepdims=True))
  scores = shifted / shifted.sum(-1, keepdims=True)
  widths, heights = rois[:, 2] - rois[:, 0], rois[:, 3] - rois[:, 1]
  ctr_x, ctr_y = rois[:, 0] + f(0.5) * widths, rois[:, 1] + f(0.5) * heights
  wx, wy, ww, wh = (f(w) for w in WEIGHTS)
  clip = f(math.log(1000.0 / 16))
  dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
  dw, dh = np.minimum(deltas[..., 2] / ww, clip), np.minimum(deltas[..., 3] / wh, clip)
  cx, cy = dx * widths[:, None] + ctr_x[:, None], dy * heights[:, None] + ctr_y[:, None]
  w, h = np.exp(dw) * widths[:, None], np.exp(dh) * heights[:, None]
  boxes = np.stack([cx - f(0.5) * w, cy - f(0.5) * h, cx + f(0.5) * w, cy + f(0.5) * h], -1)
  height, width = image_size
  boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, width)
  boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, height)
  labels = np.broadcast_to(np.arange(logits.shape[1]), scores.shape)
  boxes = boxes[:, 1:].reshape(-1, 4)
  scores, labels = scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
  inds = np.flatnonzero(scores > score_threshold)
  boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
  keep = np.flatnonzero((boxes[:, 2] - boxes[:, 0] >= 1e-2)
                        & (boxes[:, 3] - boxes[:, 1] >= 1e-2))
  boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
  keep = _numpy_batched_nms(boxes, scores, labels, nms_threshold)[:max_detections]
  return boxes[keep], scores[keep], labels[keep] - 1


def _random_inputs(rng, num_rois, num_classes):
  corners = rng.uniform(-10, 90, (num_rois, 2))
  rois = np.concatenate([corners, corners + rng.uniform(5, 50, (num_rois, 2))], 1)
  logits = 2 * rng.normal(size=(num_rois, num_classes + 1))
  deltas = rng.normal(size=(num_rois, num_classes + 1, 4))
  return rois.astype(np.float32), logits.astype(np.float32), deltas.astype(np.float32)


@pytest.mark.parametrize("seed, score_threshold, nms_threshold, max_detections", [
    (0, 0.05, 0.3, 100),
    (1, 0.05, 0.5, 20),
    (2, 0.3, 0.3, 100),
])
def test_matches_torchvision_postprocess_detections(seed, score_threshold, nms_threshold,
                                                    max_detections):
  rng = np.random.default_rng(seed)
  rois, logits, deltas = _random_inputs(rng, 60, 5)
  valid = rng.uniform(size=60) < 0.8
  size = (100, 120)
  found = detection.detect(rois, valid, logits, deltas, jnp.array(size),
                           score_threshold=score_threshold, nms_threshold=nms_threshold,
                           max_detections=max_detections)
  boxes, scores, labels = _torchvision_postprocess(rois[valid], logits[valid],
                                                   deltas[valid], size, score_threshold,
                                                   nms_threshold, max_detections)
  count = len(boxes)
  assert 0 < count and int(found.valid.sum()) == count
  np.testing.assert_array_equal(found.valid[:count], True)
  np.testing.assert_array_equal(found.labels[:count], labels)
  np.testing.assert_allclose(found.scores[:count], scores, rtol=1e-5)
  np.testing.assert_allclose(found.boxes[:count], boxes, rtol=1e-5, atol=1e-4)
  np.testing.assert_array_equal(found.boxes[count:], 0.0)
  np.testing.assert_array_equal(found.scores[count:], 0.0)


def _detect(rois, logits, valid=None, size=SIZE, **kwargs):
  rois = np.asarray(rois, np.float32)
  logits = np.asarray(logits, np.float32)
  valid = np.ones(len(rois), bool) if valid is None else np.asarray(valid)
  deltas = np.zeros(logits.shape + (4,), np.float32)
  return detection.detect(rois, valid, logits, deltas, size, **kwargs)


def test_scores_must_exceed_the_threshold():
  # Probabilities 0.5, 0.5 and 0 for background, class 0 and class 1.
  rois, logits = [[10, 10, 30, 30]], [[0.0, 0.0, -1e9]]
  found = _detect(rois, logits, max_detections=3)
  np.testing.assert_array_equal(found.valid, [True, False, False])
  np.testing.assert_array_equal(found.labels[0], 0)
  np.testing.assert_allclose(found.scores[0], 0.5)
  np.testing.assert_array_equal(found.boxes[0], [10, 10, 30, 30])
  assert not bool(_detect(rois, logits, score_threshold=0.5).valid.any())


def test_only_the_best_max_detections_are_returned():
  rois = [[10 * i, 0, 10 * i + 8, 8] for i in range(10)]
  logits = [[0.0, 0.1 * i] for i in range(10)]
  found = _detect(rois, logits, max_detections=4)
  np.testing.assert_array_equal(found.boxes[:, 0], [90, 80, 70, 60])
  np.testing.assert_array_equal(found.valid, True)
  assert np.all(np.diff(np.asarray(found.scores)) < 0)


def test_nms_stays_within_a_class():
  rois = [[0, 0, 10, 10], [0, 0, 10, 10]]
  logits = [[-5.0, 3.0, 1.0], [-5.0, 2.0, 2.5]]
  found = _detect(rois, logits, max_detections=4)
  # Class 0: roi 0 beats roi 1; class 1: roi 1 beats roi 0; one box each.
  np.testing.assert_array_equal(found.valid, [True, True, False, False])
  np.testing.assert_array_equal(found.labels[:2], [0, 1])
  probs = np.asarray(jax.nn.softmax(jnp.asarray(logits, jnp.float32)))
  np.testing.assert_allclose(found.scores[:2], [probs[0, 1], probs[1, 2]], rtol=1e-6)


def test_padding_rois_and_boxes_clipped_away_are_never_detected():
  rois = [[0, 0, 10, 10], [20, 20, 40, 40], [200, 0, 210, 10]]
  logits = [[0.0, 5.0], [0.0, 4.0], [0.0, 6.0]]
  found = _detect(rois, logits, valid=[False, True, True], max_detections=3)
  np.testing.assert_array_equal(found.valid, [True, False, False])
  np.testing.assert_array_equal(found.boxes[0], [20, 20, 40, 40])


def test_runs_under_jit_and_vmap_without_callbacks():
  rng = np.random.default_rng(3)
  inputs = [_random_inputs(rng, 40, 3) for _ in range(2)]
  rois, logits, deltas = (jnp.stack([x[i] for x in inputs]) for i in range(3))
  valid = jnp.asarray(rng.uniform(size=(2, 40)) < 0.9)
  sizes = jnp.array([[100, 100], [70, 90]])

  def run(rois, valid, logits, deltas, size):
    return detection.detect(rois, valid, logits, deltas, size, max_detections=25)

  batched = jax.jit(jax.vmap(run))(rois, valid, logits, deltas, sizes)
  assert batched.boxes.shape == (2, 25, 4) and batched.labels.dtype == jnp.int32
  for i in range(2):
    one = run(rois[i], valid[i], logits[i], deltas[i], sizes[i])
    np.testing.assert_array_equal(batched.labels[i], one.labels)
    np.testing.assert_allclose(batched.boxes[i], one.boxes, atol=1e-5)
  assert float(batched.boxes[1, :, 2].max()) <= 90
  jaxpr = jax.make_jaxpr(jax.vmap(run))(rois, valid, logits, deltas, sizes)
  assert "callback" not in str(jaxpr)


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="box_deltas"):
    detection.detect(np.zeros((2, 4)), np.ones(2, bool), np.zeros((2, 3)),
                     np.zeros((2, 2, 4)), SIZE)
  with pytest.raises(ValueError, match="max_detections"):
    _detect([[0, 0, 1, 1]], [[0.0, 1.0]], max_detections=0)
  with pytest.raises(ValueError, match="weights"):
    _detect([[0, 0, 1, 1]], [[0.0, 1.0]], weights=(10, 10))
