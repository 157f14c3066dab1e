"""R-CNN's parts around the CNN, against rbg's rcnn and the paper's hand-checkable cases."""
import numpy as np
import pytest
from sklearn import datasets

from jcnn.detection import box_coding, rcnn


def _box_image(box, size=40, inside=1.0):
  image = np.zeros((size, size, 1), np.float32)
  x1, y1, x2, y2 = box
  image[y1:y2, x1:x2] = inside
  return image


def test_warp_with_context_puts_the_box_inside_that_many_pixels_of_context():
  # rcnn_im_crop with crop 32 and padding 4: scale 32 / 24; the 12 px box [8, 20) grows
  # to [6, 22), which is warped to 32 px: the box covers crop pixels [4, 28) (×2).
  crop = np.asarray(rcnn.warp_regions(_box_image((8, 8, 20, 20)), [[8, 8, 20, 20]],
                                      size=32, context=4))[0, ..., 0]
  assert crop.shape == (32, 32)
  np.testing.assert_allclose(crop[5:27, 5:27], 1.0, atol=1e-6)
  np.testing.assert_allclose(crop[:3], 0.0, atol=1e-6)
  np.testing.assert_allclose(crop[:, 29:], 0.0, atol=1e-6)
  # Bilinear edges half a pixel wide; each row through the box holds its 12 px × 2.
  np.testing.assert_allclose(crop[16].sum(), 24.0, atol=1e-5)


def test_isotropic_warp_keeps_the_aspect_ratio():
  # A 12 × 6 box: the tightest square with context is the 16 × 16 one of the box above,
  # so the box fills 24 × 12 crop pixels; the anisotropic warp stretches it to 24 × 24.
  box = [[8, 8, 20, 14]]
  image = _box_image((8, 8, 20, 14))
  square = np.asarray(rcnn.warp_regions(image, box, 32, 4, square=True))[0, ..., 0]
  warped = np.asarray(rcnn.warp_regions(image, box, 32, 4))[0, ..., 0]
  np.testing.assert_allclose(square.sum(), 24 * 12, atol=1e-3)
  np.testing.assert_allclose(warped.sum(), 24 * 24, atol=1e-3)
  np.testing.assert_allclose(square[11:21, 5:27], 1.0, atol=1e-6)


def test_context_outside_the_image_is_the_mean():
  # The box at the corner grows to [-2, 14): its first 2 px (4 crop pixels) lie outside.
  crop = np.asarray(rcnn.warp_regions(np.ones((40, 40, 1), np.float32), [[0, 0, 12, 12]],
                                      32, 4))[0, ..., 0]
  np.testing.assert_allclose(crop[:3], 0.0, atol=1e-6)
  np.testing.assert_allclose(crop[5:, 5:], 1.0, atol=1e-6)


def test_bad_warp_arguments():
  with pytest.raises(ValueError, match="context must be in"):
    rcnn.warp_regions(np.zeros((8, 8, 1)), [[0, 0, 4, 4]], size=8, context=4)
  with pytest.raises(ValueError, match="image"):
    rcnn.warp_regions(np.zeros((8, 8)), [[0, 0, 4, 4]], size=8, context=1)


def test_region_labels_follow_the_best_ground_truth_at_iou_half():
  gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
  proposals = [[0, 0, 10, 10],    # IoU 1 with class 3
               [0, 0, 10, 20],    # IoU 0.5 exactly: foreground
               [0, 0, 10, 21],    # IoU 10 / 21 < 0.5: background
               [20, 20, 30, 29]]  # IoU 0.9 with class 1
  labels, iou, best = rcnn.region_labels(proposals, gt, [3, 1])
  np.testing.assert_array_equal(labels, [4, 4, 0, 2])
  np.testing.assert_allclose(iou, [1.0, 0.5, 10 / 21, 0.9], rtol=1e-6)
  np.testing.assert_array_equal(best, [0, 0, 0, 1])
  empty = rcnn.region_labels(proposals, np.zeros((0, 4)), [])
  np.testing.assert_array_equal(empty[0], [0, 0, 0, 0])
  np.testing.assert_array_equal(empty[2], [-1, -1, -1, -1])


def test_mini_batches_are_32_foreground_and_96_background_when_there_are_enough():
  rng = np.random.default_rng(0)
  labels = np.array([1] * 50 + [0] * 500)
  batch = rcnn.sample_regions(rng, labels)
  assert len(batch) == 128 and len(set(batch)) == 128
  assert (labels[batch] > 0).sum() == 32
  few = rcnn.sample_regions(rng, np.array([2] * 5 + [0] * 500))
  assert len(few) == 128 and (np.array([2] * 5 + [0] * 500)[few] > 0).sum() == 5


def test_hard_negative_mining_only_adds_negatives_above_the_threshold():
  model = rcnn.LinearSVM(np.array([1.0, 0.0], np.float32), 0.0)
  negatives = np.array([[-2.0, 5], [-1.0, 5], [-1.2, 0], [-0.5, 1], [0.3, 0]], np.float32)
  np.testing.assert_array_equal(rcnn.hard_negatives(model, negatives, -1.0001), [1, 3, 4])
  # Before a first model every negative is hard.
  np.testing.assert_array_equal(rcnn.hard_negatives(None, negatives, -1.0001), range(5))


def test_svm_with_mining_separates_real_digits():
  # Zeros against every other digit of scikit-learn's 8×8 digits, negatives arriving in
  # "images" of 40, as R-CNN's miner sees them.
  digits = datasets.load_digits()
  x = digits.data.astype(np.float32)
  x *= rcnn.feature_scale(x)
  train, test = slice(0, 1200), slice(1200, None)
  is_zero = digits.target == 0
  negatives = x[train][~is_zero[train]]
  options = rcnn.SVMOptions(retrain_every=200)
  model = rcnn.train_svm(x[train][is_zero[train]],
                         np.array_split(negatives, len(negatives) // 40), options)
  predicted = model.score(x[test]) > 0
  assert (predicted == is_zero[test]).mean() >= 0.99
  # Retrained more than once, and each retraining evicted easy negatives.
  assert len(model.history) > 1
  assert all(after <= before for before, after in model.history)
  assert model.history[-1][1] < len(negatives)


def test_svm_refuses_no_positives_or_no_negatives():
  with pytest.raises(ValueError, match="positives"):
    rcnn.train_svm(np.zeros((0, 3)), [np.ones((2, 3))])
  with pytest.raises(ValueError, match="at least one negative"):
    rcnn.train_svm(np.ones((2, 3)), [np.zeros((0, 3))])


def test_regression_targets_are_the_papers_and_decode_inverts_them():
  proposal, gt = np.array([[0.0, 0, 10, 10]]), np.array([[5.0, 0, 15, 20]])
  np.testing.assert_allclose(rcnn.regression_targets(proposal, gt),
                             [[0.5, 0.5, 0.0, np.log(2.0)]], rtol=1e-6)
  rng = np.random.default_rng(0)
  xy = rng.uniform(0, 50, (20, 2))
  proposals = np.concatenate([xy, xy + rng.uniform(4, 30, (20, 2))], axis=1)
  xy = rng.uniform(0, 50, (20, 2))
  boxes = np.concatenate([xy, xy + rng.uniform(4, 30, (20, 2))], axis=1)
  np.testing.assert_allclose(
      box_coding.decode(rcnn.regression_targets(proposals, boxes), proposals), boxes,
      rtol=1e-4, atol=1e-3)


def test_regression_learns_from_proposals_over_iou_06_and_moves_them_onto_the_truth():
  gt = np.array([[10.0, 10, 30, 30]])
  rng = np.random.default_rng(1)
  proposals = gt + rng.uniform(-3, 3, (60, 4))
  far = np.array([[40.0, 40, 60, 60]])
  keep, matched, labels = rcnn.regression_examples(np.concatenate([proposals, far]), gt, [4])
  assert 60 not in keep and len(keep) > 40 and set(labels) == {4}
  # Features that carry the targets linearly: the ridge solution recovers the truth.
  features = rcnn.regression_targets(proposals[keep], matched)
  regressor = rcnn.fit_box_regressor(features, proposals[keep], matched, alpha=1e-6)
  np.testing.assert_allclose(regressor.predict(features, proposals[keep], (64, 64)),
                             matched, atol=1e-3)


def test_detections_suppress_within_a_class_at_iou_03():
  proposals = [[0, 0, 10, 10], [1, 0, 11, 10], [30, 30, 40, 40]]
  scores = [[2.0, -1.0], [1.5, 1.0], [-0.5, 0.5]]
  index, labels, best = rcnn.detections(proposals, scores, score_threshold=0.0)
  # Proposal 1 overlaps proposal 0 (IoU 9/11) in class 0, but is class 1's best.
  np.testing.assert_array_equal(index, [0, 1, 2])
  np.testing.assert_array_equal(labels, [0, 1, 1])
  np.testing.assert_allclose(best, [2.0, 1.0, 0.5])
  assert [len(a) for a in rcnn.detections(np.zeros((0, 4)), np.zeros((0, 2)))] == [0, 0, 0]


def test_boxes_of_several_images_warp_from_their_own_image():
  images = np.stack([_box_image((8, 8, 20, 20)), _box_image((8, 8, 20, 20), inside=2.0)])
  boxes = [[8, 8, 20, 20], [8, 8, 20, 20], [0, 0, 12, 12]]
  crops = np.asarray(rcnn.warp_regions(images, boxes, 32, 4, image_index=[1, 0, 1]))
  alone = [np.asarray(rcnn.warp_regions(images[i], [b], 32, 4))[0]
           for i, b in zip([1, 0, 1], boxes)]
  np.testing.assert_allclose(crops, np.stack(alone), atol=1e-6)
  np.testing.assert_allclose(crops[0, 16, 16], 2.0)
  with pytest.raises(ValueError, match="image_index"):
    rcnn.warp_regions(images, boxes, 32, 4)
