"""Anchor and proposal targets: hand-built images with known labels (py-faster-rcnn's
anchor_target_layer and proposal_target_layer rules), exact sample counts, and jit + vmap."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import detection

KEY = jax.random.key(0)
SIZE = jnp.array([100, 100], jnp.int32)


def _anchor_labels(anchors, gt_boxes, gt_mask=None, size=SIZE, **kwargs):
  """Labels without sampling (room for every positive and negative)."""
  gt_boxes = np.asarray(gt_boxes, np.float32)
  gt_mask = np.ones(len(gt_boxes), bool) if gt_mask is None else gt_mask
  kwargs.setdefault("num_samples", 2 * len(anchors))
  return detection.anchor_targets(np.asarray(anchors, np.float32), gt_boxes, gt_mask, size,
                                  KEY, **kwargs)


def test_each_gt_gets_its_best_anchors_even_below_the_positive_threshold():
  gt = [[0, 0, 10, 10]]
  anchors = [[0, 0, 20, 10],  # IoU 0.5, best: positive although < 0.7
             [0, 0, 10, 20],  # IoU 0.5, tied best: positive too
             [0, 0, 10, 25],  # IoU 0.4: between the thresholds, ignored
             [0, 0, 20, 20],  # IoU 0.25: negative
             [50, 50, 60, 60]]  # IoU 0: negative
  np.testing.assert_array_equal(_anchor_labels(anchors, gt).labels, [1, 1, -1, 0, 0])


def test_thresholds_positive_at_or_above_and_negative_strictly_below():
  gt = [[0, 0, 10, 10]]
  anchors = [[0, 0, 10, 10],  # IoU 1, the best
             [0, 0, 10, 7],  # IoU exactly 0.7: positive
             [0, 0, 10, 6.9],  # IoU 0.69: ignored
             [0, 0, 10, 3],  # IoU exactly 0.3: not below 0.3, ignored
             [0, 0, 10, 2.9]]  # IoU 0.29: negative
  np.testing.assert_array_equal(_anchor_labels(anchors, gt).labels, [1, 1, -1, -1, 0])
  np.testing.assert_array_equal(
      _anchor_labels(anchors, gt, positive_iou=0.8, negative_iou=0.5).labels,
      [1, -1, -1, 0, 0])


def test_anchors_across_the_border_are_ignored_and_never_a_gts_best():
  gt = [[0, 0, 10, 10]]
  anchors = [[-1, 0, 10, 10],  # IoU 10/11 but crosses the left border
             [0, 0, 10, 7],  # IoU 0.7, the best inside
             [90, 90, 100, 100],  # touches the corner (x2 == width): inside, negative
             [90, 90, 100.5, 100]]  # crosses the right border: ignored
  targets = _anchor_labels(anchors, gt)
  np.testing.assert_array_equal(targets.labels, [-1, 1, 0, -1])
  targets = _anchor_labels(anchors, gt, allowed_border=1.0)
  np.testing.assert_array_equal(targets.labels, [1, 1, 0, 0])
  # The border is the image content's, not the padded canvas's.
  targets = _anchor_labels(anchors, gt, size=jnp.array([95, 200]))
  np.testing.assert_array_equal(targets.labels, [-1, 1, -1, -1])


def test_a_gt_overlapping_no_anchor_makes_none_positive():
  gt = [[0, 0, 10, 10], [70, 70, 80, 80]]
  anchors = [[0, 0, 10, 10], [30, 30, 40, 40], [50, 50, 60, 60]]
  np.testing.assert_array_equal(_anchor_labels(anchors, gt).labels, [1, 0, 0])


def test_matched_gt_is_the_best_one_and_padding_gts_take_no_part():
  gt = [[0, 0, 10, 10], [0, 0, 10, 10], [40, 40, 60, 60]]
  mask = np.array([False, True, True])
  anchors = [[0, 0, 10, 9], [40, 40, 60, 58], [41, 41, 60, 60]]
  targets = _anchor_labels(anchors, gt, mask)
  np.testing.assert_array_equal(targets.matched, [1, 2, 2])
  np.testing.assert_array_equal(targets.labels, [1, 1, 1])


def test_image_without_gt_has_only_negatives():
  anchors = [[0, 0, 10, 10], [20, 20, 50, 50], [-5, 0, 10, 10]]
  for gt, mask in (([[0, 0, 10, 10]], [False]), (np.zeros((0, 4)), np.zeros(0, bool))):
    targets = _anchor_labels(anchors, gt, np.asarray(mask))
    np.testing.assert_array_equal(targets.labels, [0, 0, -1])
    np.testing.assert_array_equal(targets.box_targets, np.zeros((3, 4)))


def _many_anchors(num_positive, num_negative, rng):
  """Anchors around gt [20, 20, 60, 60]: `num_positive` with IoU >= 0.7, `num_negative`
  far away, and some in between."""
  jitter = rng.uniform(-2, 2, (num_positive, 4))
  positives = np.array([20, 20, 60, 60]) + jitter
  corners = rng.uniform(70, 80, (num_negative, 2))
  negatives = np.concatenate([corners, corners + rng.uniform(5, 20, (num_negative, 2))], 1)
  between = np.array([[20, 20, 60, 90]] * 7)  # IoU 0.57: ignored
  anchors = np.concatenate([positives, between, negatives]).astype(np.float32)
  return anchors[rng.permutation(len(anchors))]


@pytest.mark.parametrize("num_positive, num_negative, expected", [
    (300, 1000, (128, 128)),  # both subsampled
    (10, 1000, (10, 246)),  # few positives: negatives fill up to 256
    (10, 100, (10, 100)),  # too few of both: all of them
])
def test_sample_counts_are_exact(num_positive, num_negative, expected):
  rng = np.random.default_rng(num_positive + num_negative)
  anchors = _many_anchors(num_positive, num_negative, rng)
  gt, mask, size = np.array([[20, 20, 60, 60]], np.float32), np.array([True]), [200, 200]
  everything = _anchor_labels(anchors, gt, mask, size=jnp.array(size)).labels
  assert int((everything == 1).sum()) == num_positive
  assert int((everything == 0).sum()) == num_negative
  for seed in range(3):
    labels = detection.anchor_targets(anchors, gt, mask, jnp.array(size),
                                      jax.random.key(seed)).labels
    assert (int((labels == 1).sum()), int((labels == 0).sum())) == expected
    # Samples are drawn from the eligible anchors only.
    assert np.all(np.asarray(everything)[np.asarray(labels == 1)] == 1)
    assert np.all(np.asarray(everything)[np.asarray(labels == 0)] == 0)
  first, second = (detection.anchor_targets(anchors, gt, mask, jnp.array(size),
                                            jax.random.key(seed)).labels for seed in (0, 1))
  assert np.array_equal(first, second) == (expected == (num_positive, num_negative))


def test_anchor_box_targets_decode_back_to_the_matched_gt():
  rng = np.random.default_rng(1)
  anchors = _many_anchors(50, 100, rng)
  gt = np.array([[20, 20, 60, 60], [21, 19, 59, 62]], np.float32)
  targets = detection.anchor_targets(anchors, gt, np.array([True, True]),
                                     jnp.array([200, 200]), KEY)
  positive = np.asarray(targets.labels == 1)
  assert positive.sum() > 0
  np.testing.assert_allclose(
      detection.decode(targets.box_targets, anchors)[positive],
      gt[np.asarray(targets.matched)[positive]], atol=1e-4)
  np.testing.assert_array_equal(np.asarray(targets.box_targets)[~positive], 0.0)


def _roi_targets(proposals, gt_boxes, gt_labels, valid=None, gt_mask=None, key=KEY,
                 **kwargs):
  proposals = np.asarray(proposals, np.float32)
  valid = np.ones(len(proposals), bool) if valid is None else np.asarray(valid)
  gt_mask = np.ones(len(gt_boxes), bool) if gt_mask is None else np.asarray(gt_mask)
  return detection.proposal_targets(proposals, valid, np.asarray(gt_boxes, np.float32),
                                    np.asarray(gt_labels, np.int32), gt_mask, key, **kwargs)


def test_proposal_targets_foreground_background_and_padding():
  gt, labels = [[0, 0, 10, 10], [50, 50, 60, 60]], [2, 0]
  proposals = [[0, 0, 10, 6],  # IoU 0.6 with gt 0: foreground
               [0, 0, 10, 5],  # IoU exactly 0.5: foreground
               [0, 0, 10, 4],  # IoU 0.4: background
               [80, 80, 90, 90],  # IoU 0: background
               [0, 0, 10, 10]]  # a padding row
  targets = _roi_targets(proposals, gt, labels, valid=[True] * 4 + [False], num_samples=8,
                         fg_fraction=0.5)
  valid = np.asarray(targets.valid)
  np.testing.assert_array_equal(valid, [True] * 6 + [False] * 2)
  # Foreground first: 2 proposals and the 2 appended gt boxes (the cap is round(4) = 4).
  np.testing.assert_array_equal(np.sort(np.asarray(targets.labels[:4])), [1, 3, 3, 3])
  np.testing.assert_array_equal(targets.labels[4:], 0)
  rois = {tuple(r) for r in np.asarray(targets.rois[:6]).tolist()}
  assert rois == {tuple(map(float, b)) for b in proposals[:4] + gt}
  np.testing.assert_array_equal(targets.rois[6:], 0.0)
  np.testing.assert_array_equal(targets.box_targets[4:], 0.0)
  # The background window [bg_iou_low, bg_iou_high) leaves the IoU-0 proposal out.
  targets = _roi_targets(proposals, gt, labels, valid=[True] * 4 + [False], num_samples=8,
                         fg_fraction=0.5, bg_iou_low=0.1)
  np.testing.assert_array_equal(np.asarray(targets.valid).sum(), 5)
  np.testing.assert_array_equal(targets.rois[4], [0, 0, 10, 4])


def test_proposal_targets_cap_foreground_at_a_quarter():
  rng = np.random.default_rng(0)
  gt = np.array([[20, 20, 60, 60]], np.float32)
  foreground = gt + rng.uniform(-2, 2, (100, 4))
  corners = rng.uniform(70, 150, (200, 2))
  background = np.concatenate([corners, corners + 10], 1)
  proposals = np.concatenate([foreground, background]).astype(np.float32)
  targets = _roi_targets(proposals, gt, [4])
  assert int((targets.labels == 5).sum()) == 32  # round(0.25 * 128)
  assert int((targets.labels == 0).sum()) == 96
  assert bool(targets.valid.all())
  np.testing.assert_array_equal(targets.labels[:32], 5)
  # Few foreground candidates (5 proposals + the gt): background fills up to 128.
  targets = _roi_targets(np.concatenate([foreground[:5], background]), gt, [4])
  assert int((targets.labels == 5).sum()) == 6
  assert int((targets.labels == 0).sum()) == 122
  # Draws differ between keys.
  other = _roi_targets(proposals, gt, [4], key=jax.random.key(1))
  assert not np.array_equal(np.asarray(other.rois), np.asarray(
      _roi_targets(proposals, gt, [4]).rois))


def test_proposal_box_targets_invert_with_the_weights():
  rng = np.random.default_rng(2)
  gt = np.array([[20, 20, 60, 60], [100, 100, 150, 130]], np.float32)
  proposals = np.concatenate([gt[0] + rng.uniform(-5, 5, (20, 4)),
                              gt[1] + rng.uniform(-5, 5, (20, 4))]).astype(np.float32)
  targets = _roi_targets(proposals, gt, [0, 6], num_samples=64, fg_fraction=0.5)
  foreground = np.asarray(targets.labels > 0)
  assert foreground.sum() == 32
  decoded = np.asarray(detection.decode(targets.box_targets, targets.rois,
                                        (10.0, 10.0, 5.0, 5.0)))[foreground]
  matched = np.where(np.asarray(targets.labels)[foreground, None] == 1, gt[0], gt[1])
  np.testing.assert_allclose(decoded, matched, atol=1e-3)
  # Each target is 10x / 5x the unweighted one (BBOX_NORMALIZE_STDS 0.1, 0.2).
  plain = np.asarray(detection.encode(matched, np.asarray(targets.rois)[foreground]))
  np.testing.assert_allclose(np.asarray(targets.box_targets)[foreground],
                             plain * [10, 10, 5, 5], rtol=1e-4, atol=1e-5)


def test_gt_boxes_are_candidates_even_without_proposals():
  gt = [[0, 0, 10, 10], [30, 30, 50, 60], [0, 0, 1, 1]]
  targets = _roi_targets([[0, 0, 10, 10]] * 3, gt, [1, 2, 3], valid=[False] * 3,
                         gt_mask=[True, True, False], num_samples=4, fg_fraction=0.5)
  np.testing.assert_array_equal(targets.valid, [True, True, False, False])
  assert sorted(np.asarray(targets.labels[:2]).tolist()) == [2, 3]
  np.testing.assert_allclose(targets.box_targets[:2], 0.0, atol=1e-6)


def test_proposal_targets_without_gt_are_all_background():
  proposals = [[0, 0, 10, 10], [5, 5, 30, 30]]
  targets = _roi_targets(proposals, [[0, 0, 10, 10]], [0], gt_mask=[False], num_samples=4)
  np.testing.assert_array_equal(targets.labels, 0)
  np.testing.assert_array_equal(targets.valid, [True, True, False, False])
  targets = _roi_targets(proposals, np.zeros((0, 4)), np.zeros(0, int), num_samples=4)
  np.testing.assert_array_equal(targets.valid, [True, True, False, False])


def test_targets_run_under_jit_and_vmap_without_callbacks():
  rng = np.random.default_rng(3)
  anchors = jnp.asarray(_many_anchors(40, 60, rng))
  gt = jnp.asarray(np.array([[[20, 20, 60, 60], [0, 0, 0, 0]],
                             [[70, 70, 90, 95], [10, 10, 30, 30]]], np.float32))
  mask = jnp.array([[True, False], [True, True]])
  labels = jnp.array([[1, 0], [2, 3]])
  sizes = jnp.array([[200, 200], [150, 120]])
  keys = jax.random.split(KEY, 2)

  def both(gt, mask, labels, size, key):
    rpn = detection.anchor_targets(anchors, gt, mask, size, key, num_samples=32)
    rois = detection.proposal_targets(anchors, rpn.labels >= 0, gt, labels, mask, key,
                                      num_samples=16)
    return rpn, rois

  batched = jax.jit(jax.vmap(both))
  rpn, rois = batched(gt, mask, labels, sizes, keys)
  assert rpn.labels.shape == (2, len(anchors)) and rois.rois.shape == (2, 16, 4)
  for i in range(2):
    one_rpn, one_rois = both(gt[i], mask[i], labels[i], sizes[i], keys[i])
    np.testing.assert_array_equal(rpn.labels[i], one_rpn.labels)
    np.testing.assert_array_equal(rois.labels[i], one_rois.labels)
    np.testing.assert_allclose(rois.box_targets[i], one_rois.box_targets, atol=1e-6)
  assert "callback" not in str(jax.make_jaxpr(jax.vmap(both))(gt, mask, labels, sizes, keys))


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="negative_iou"):
    _anchor_labels([[0, 0, 1, 1]], [[0, 0, 1, 1]], positive_iou=0.3, negative_iou=0.7)
  with pytest.raises(ValueError, match="gt_mask"):
    detection.anchor_targets(np.zeros((1, 4)), np.zeros((2, 4)), np.ones(3, bool), SIZE, KEY)
  with pytest.raises(ValueError, match="num_samples"):
    _roi_targets([[0, 0, 1, 1]], [[0, 0, 1, 1]], [0], num_samples=0)
  with pytest.raises(ValueError, match="fg_fraction"):
    _roi_targets([[0, 0, 1, 1]], [[0, 0, 1, 1]], [0], fg_fraction=25)
