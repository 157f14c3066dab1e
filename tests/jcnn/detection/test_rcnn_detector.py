"""R-CNN's SVMs and box regressors over hand-made features (jcnn.detection.rcnn_detector)."""
import numpy as np
import pytest

from jcnn.detection import box_coding, rcnn_detector


def _image(rng, label, shift):
  """One image: a ground-truth box of `label`, a proposal on it shifted by `shift` px,
  and two background proposals; features one-hot in the class (plus noise), regression
  features carrying the shift."""
  gt = np.array([[20, 20, 40, 40]], np.float32)
  boxes = np.concatenate([gt, gt + [shift, 0, shift, 0], [[0, 0, 8, 8], [50, 50, 60, 60]]])
  features = rng.normal(0, 0.05, (4, 3)).astype(np.float32)
  features[:2, label] += 1.0
  features[2:, 2] += 1.0               # background looks like "class 2" of 3: never labelled
  regression = np.zeros((4, 2), np.float32)
  regression[:, 0] = -shift_delta(shift)  # the feature tells how far to move back
  regression[0, 0] = 0.0
  regression[:, 1] = 1.0
  record = {"boxes": gt, "labels": np.array([label]), "width": 64, "height": 64}
  return rcnn_detector.RegionFeatures(boxes, features, regression), record


def shift_delta(shift):
  return shift / 20.0  # dx of a 20-px box shifted by `shift`


def _fitted(n=40):
  rng = np.random.default_rng(0)
  data = [_image(rng, i % 2, 4.0) for i in range(n)]
  per_image, records = zip(*data)
  return rcnn_detector.fit(list(per_image), list(records), num_classes=2, step=7,
                           settings="s"), per_image


def test_svms_score_their_class_above_background():
  detector, per_image = _fitted()
  scores = detector.scores(per_image[0].features)   # image 0 is class 0
  assert scores[0, 0] > 0 > scores[2, 0] and scores[0, 1] < 0
  assert detector.svm_weights.shape == (2, 3) and detector.step == 7


def test_the_regressor_moves_a_shifted_proposal_back_onto_its_box():
  detector, per_image = _fitted()
  one = per_image[1]  # class 1: its proposal 1 is the box shifted 4 px right
  only = rcnn_detector.RegionFeatures(one.boxes[1:2], one.features[1:2], one.regression[1:2])
  boxes, labels, _ = detector.detect(only, (64, 64))
  # rbg's rcnn_test keeps every class's score (threshold -inf): the best is class 1.
  assert labels.tolist()[0] == 1 and len(labels) == 2
  # Ridge with λ = 1000 on scaled features shrinks the move; it goes the right way.
  assert 20.0 <= boxes[0, 0] < 24.0 and 40.0 <= boxes[0, 2] < 44.0
  deltas = box_coding.encode(np.array([[20, 20, 40, 40]], np.float32), one.boxes[1:2])
  assert float(deltas[0, 0]) == pytest.approx(-0.2)


def test_an_image_without_proposals_has_no_detections():
  detector, _ = _fitted()
  empty = rcnn_detector.RegionFeatures(np.zeros((0, 4)), np.zeros((0, 0)), np.zeros((0, 0)))
  boxes, labels, scores = detector.detect(empty, (64, 64))
  assert boxes.shape == (0, 4) and len(labels) == len(scores) == 0


def test_save_and_load_round_trip_and_a_corrupt_file_is_named(tmp_path):
  detector, per_image = _fitted()
  detector.save(tmp_path / "detector.npz")
  loaded = rcnn_detector.load(tmp_path / "detector.npz")
  np.testing.assert_array_equal(loaded.scores(per_image[3].features),
                                detector.scores(per_image[3].features))
  assert (loaded.step, loaded.settings) == (7, "s")
  (tmp_path / "bad.npz").write_bytes(b"not a detector")
  with pytest.raises(ValueError, match="cannot read the R-CNN detector .*bad.npz"):
    rcnn_detector.load(tmp_path / "bad.npz")


def test_windows_must_start_with_the_ground_truth_and_every_class_needs_positives():
  rng = np.random.default_rng(0)
  found, record = _image(rng, 0, 4.0)
  shuffled = rcnn_detector.RegionFeatures(found.boxes[::-1], found.features, found.regression)
  with pytest.raises(ValueError, match="must start with its ground-truth boxes"):
    rcnn_detector.fit([shuffled], [record], num_classes=1)
  with pytest.raises(ValueError, match="class 1 has no ground-truth box"):
    rcnn_detector.fit([found], [record], num_classes=2)
