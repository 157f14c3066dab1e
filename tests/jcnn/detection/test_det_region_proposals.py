"""RPN proposals: hand-built anchors for each step (min size, top-N, NMS, clipping) and an
eager reference of py-faster-rcnn's proposal_layer on random inputs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import detection

SIZE = jnp.array([100, 100], jnp.int32)


def _proposals(anchors, logits, deltas=None, size=SIZE, **kwargs):
  anchors = np.asarray(anchors, np.float32)
  deltas = np.zeros_like(anchors) if deltas is None else deltas
  kwargs.setdefault("pre_nms_top_n", 100)
  kwargs.setdefault("post_nms_top_n", 4)
  return detection.rpn_proposals(anchors, np.asarray(logits, np.float32), deltas, size,
                                 **kwargs)


def _reference(anchors, logits, deltas, size, pre_nms_top_n, post_nms_top_n, nms_threshold,
               min_size):
  """proposal_layer's steps with the eager functions: decode, clip, drop small boxes,
  sort, top pre_nms_top_n, NMS, first post_nms_top_n."""
  boxes = np.asarray(detection.clip_boxes(detection.decode(deltas, anchors), size))
  sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
  big = np.flatnonzero(sides >= min_size)
  order = big[np.argsort(-logits[big], kind="stable")][:pre_nms_top_n]
  kept = order[detection.nms(boxes[order], logits[order], nms_threshold)][:post_nms_top_n]
  return boxes[kept], 1 / (1 + np.exp(-logits[kept]))


def test_small_boxes_are_dropped_and_the_rest_padded():
  anchors = [[0, 0, 10, 10], [0, 0, 4, 20], [20, 20, 40, 40]]
  found = _proposals(anchors, [3.0, 5.0, 1.0], min_size=5.0)
  np.testing.assert_array_equal(found.valid, [True, True, False, False])
  np.testing.assert_array_equal(found.boxes, [[0, 0, 10, 10], [20, 20, 40, 40],
                                              [0, 0, 0, 0], [0, 0, 0, 0]])
  np.testing.assert_allclose(found.scores, [1 / (1 + np.exp(-3)), 1 / (1 + np.exp(-1)),
                                            0, 0], rtol=1e-6)
  # A side equal to min_size stays; by default only empty sides go (none here).
  assert int(_proposals(anchors, [3.0, 5.0, 1.0], min_size=4.0).valid.sum()) == 3


def test_only_the_pre_nms_top_n_best_enter_and_post_nms_top_n_leave():
  anchors = [[10 * i, 0, 10 * i + 8, 8] for i in range(6)]
  logits = [0.5, 2.0, -1.0, 3.0, 1.0, 0.0]
  found = _proposals(anchors, logits, pre_nms_top_n=3, post_nms_top_n=5)
  np.testing.assert_array_equal(found.boxes[:3, 0], [30, 10, 40])
  np.testing.assert_array_equal(found.valid, [True] * 3 + [False] * 2)
  found = _proposals(anchors, logits, pre_nms_top_n=6, post_nms_top_n=2)
  np.testing.assert_array_equal(found.boxes[:, 0], [30, 10])


def test_nms_suppresses_overlaps_above_the_threshold():
  anchors = [[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 8], [50, 50, 60, 60]]
  logits = [1.0, 2.0, 0.0, -1.0]
  # IoUs with the best box [0, 0, 10, 9]: 0.9 and 0.89.
  found = _proposals(anchors, logits, nms_threshold=0.7)
  np.testing.assert_array_equal(found.boxes[:2], [[0, 0, 10, 9], [50, 50, 60, 60]])
  np.testing.assert_array_equal(found.valid, [True, True, False, False])
  found = _proposals(anchors, logits, nms_threshold=0.895)
  np.testing.assert_array_equal(found.boxes[:3, 3], [9, 8, 60])


def test_boxes_are_clipped_to_the_image_content():
  anchors = [[-10, -10, 50, 200], [60, 20, 120, 40]]
  found = _proposals(anchors, [1.0, 0.0], size=jnp.array([100, 80]))
  np.testing.assert_array_equal(found.boxes[:2], [[0, 0, 50, 100], [60, 20, 80, 40]])
  # Deltas move the anchor first: dx = 0.5 shifts [0, 0, 10, 10] by 5 pixels.
  found = _proposals([[0, 0, 10, 10]], [0.0], np.array([[0.5, 0, 0, 0]], np.float32),
                     size=jnp.array([100, 12]))
  np.testing.assert_array_equal(found.boxes[0], [5, 0, 12, 10])


# Seed 0 keeps 287 boxes after NMS (cut to 100), seed 1 keeps 172 (padded to 200); seed
# 2's logits take 5 values, so ties (ranked by index) decide the order.
@pytest.mark.parametrize("seed, nms_threshold, min_size, post_nms_top_n, tied",
                         [(0, 0.7, 0.0, 100, False), (1, 0.5, 8.0, 200, False),
                          (2, 0.7, 4.0, 200, True)])
def test_matches_the_eager_reference_on_random_inputs(seed, nms_threshold, min_size,
                                                      post_nms_top_n, tied):
  rng = np.random.default_rng(seed)
  corners = rng.uniform(-20, 100, (600, 2))
  anchors = np.concatenate([corners, corners + rng.uniform(4, 50, (600, 2))],
                           1).astype(np.float32)
  logits = (rng.integers(-2, 3, 600) if tied else rng.normal(size=600)).astype(np.float32)
  deltas = (0.2 * rng.normal(size=(600, 4))).astype(np.float32)
  size = (90, 110)
  found = detection.rpn_proposals(anchors, logits, deltas, jnp.array(size),
                                  pre_nms_top_n=300, post_nms_top_n=post_nms_top_n,
                                  nms_threshold=nms_threshold, min_size=min_size)
  boxes, scores = _reference(anchors, logits, deltas, size, 300, post_nms_top_n,
                             nms_threshold, min_size)
  count = len(boxes)
  assert 0 < count and int(found.valid.sum()) == count
  np.testing.assert_array_equal(found.valid[:count], True)
  np.testing.assert_array_equal(found.boxes[:count], boxes)
  np.testing.assert_allclose(found.scores[:count], scores, rtol=1e-6)
  np.testing.assert_array_equal(found.boxes[count:], 0.0)


def test_runs_under_jit_and_vmap_without_callbacks():
  rng = np.random.default_rng(2)
  corners = rng.uniform(0, 80, (200, 2))
  anchors = jnp.asarray(np.concatenate([corners, corners + 20], 1), jnp.float32)
  logits = jnp.asarray(rng.normal(size=(2, 200)), jnp.float32)
  deltas = jnp.asarray(0.1 * rng.normal(size=(2, 200, 4)), jnp.float32)
  sizes = jnp.array([[100, 100], [60, 90]])

  def propose(logits, deltas, size):
    return detection.rpn_proposals(anchors, logits, deltas, size, pre_nms_top_n=150,
                                   post_nms_top_n=30, min_size=2.0)

  batched = jax.jit(jax.vmap(propose))(logits, deltas, sizes)
  assert batched.boxes.shape == (2, 30, 4)
  for i in range(2):
    one = propose(logits[i], deltas[i], sizes[i])
    np.testing.assert_array_equal(batched.boxes[i], one.boxes)
    np.testing.assert_array_equal(batched.valid[i], one.valid)
  assert float(batched.boxes[1, :, 3].max()) <= 60
  assert "callback" not in str(jax.make_jaxpr(jax.vmap(propose))(logits, deltas, sizes))


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="objectness"):
    _proposals([[0, 0, 1, 1]], [0.0, 1.0])
  with pytest.raises(ValueError, match="post_nms_top_n"):
    _proposals([[0, 0, 1, 1]], [0.0], post_nms_top_n=0)
  with pytest.raises(ValueError, match="iou_threshold"):
    _proposals([[0, 0, 1, 1]], [0.0], nms_threshold=70)
