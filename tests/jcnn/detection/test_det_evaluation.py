"""VOC AP by hand (the devkit's rules) and COCO AP through pycocotools on toy cases."""
import numpy as np
import pytest

from jcnn import detection


def test_voc_ap_by_hand():
  recall, precision = np.array([0.5, 1.0]), np.array([1.0, 0.5])
  # VOC2010+: area under the monotone curve, 0.5 * 1 + 0.5 * 0.5.
  assert detection.voc_ap(recall, precision) == pytest.approx(0.75)
  # VOC2007: recall thresholds 0, ..., 0.5 see precision 1, 0.6, ..., 1 see 0.5.
  assert detection.voc_ap(recall, precision, use_07_metric=True) == pytest.approx(8.5 / 11)
  assert detection.voc_ap(np.array([]), np.array([])) == 0.0


def _gt(boxes, labels, difficult):
  return {"boxes": np.array(boxes, np.float32), "labels": np.array(labels),
          "difficult": np.array(difficult), "width": 100, "height": 100}


def _det(boxes, scores, labels):
  return {"boxes": np.array(boxes, np.float32).reshape(-1, 4), "scores": np.array(scores),
          "labels": np.array(labels)}


def test_voc_evaluate_by_hand():
  ground_truths = [_gt([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]], [0, 0, 1],
                       [False, True, False]),
                   _gt([[50, 50, 60, 60]], [0], [False])]
  detections = [_det([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]],
                     [0.9, 0.8, 0.7, 0.5], [0, 0, 0, 1]),
                _det([[50, 50, 60, 60]], [0.6], [0])]
  # Class 0, by score: TP, duplicate (FP), difficult (ignored), TP; 2 positives. Recall
  # 0.5, 0.5, 0.5, 1; precision 1, 0.5, 0.5, 2/3.
  result = detection.voc_evaluate(detections, ground_truths, legacy_pixel=False)
  np.testing.assert_allclose(result["ap"], [0.5 + 0.5 * 2 / 3, 1.0])
  assert result["mAP"] == pytest.approx((0.5 + 0.5 * 2 / 3 + 1.0) / 2)
  np.testing.assert_array_equal(result["num_positives"], [2, 1])
  result = detection.voc_evaluate(detections, ground_truths, use_07_metric=True,
                                  legacy_pixel=False)
  np.testing.assert_allclose(result["ap"], [(6 + 5 * 2 / 3) / 11, 1.0])


def test_voc_overlap_of_exactly_half_matches():
  # VOCevaldet.m: "if ovmax >= VOCopts.minoverlap"; IoU here is 2 / 4.
  result = detection.voc_evaluate([_det([[1, 0, 4, 1]], [1.0], [0])],
                                  [_gt([[0, 0, 3, 1]], [0], [False])], legacy_pixel=False)
  assert result["mAP"] == 1.0
  # These overlap 1 / 4 in continuous coordinates, 4 / 10 in the devkit's inclusive pixels.
  args = [_det([[2, 0, 4, 1]], [1.0], [0])], [_gt([[0, 0, 3, 1]], [0], [False])]
  assert detection.voc_evaluate(*args, iou_threshold=0.3)["mAP"] == 1.0
  assert detection.voc_evaluate(*args, iou_threshold=0.3, legacy_pixel=False)["mAP"] == 0.0


def test_coco_ap_toy_cases():
  ground_truths = [_gt([[10, 10, 60, 60]], [0], [False]), _gt([[0, 0, 40, 20]], [1], [False])]
  perfect = [_det([[10, 10, 60, 60]], [0.9], [0]), _det([[0, 0, 40, 20]], [0.8], [1])]
  stats = detection.coco_evaluate(perfect, ground_truths)
  for name in ("AP", "AP50", "AP75", "APm", "AR100"):
    assert stats[name] == pytest.approx(1.0)
  assert stats["APl"] == -1.0  # no box larger than 96^2
  nothing = [_det([], [], []), _det([], [], [])]
  assert detection.coco_evaluate(nothing, ground_truths)["AP"] == 0.0
  # IoU 0.62 passes the thresholds 0.5, 0.55, 0.6 of 0.5:0.05:0.95: AP = 3 / 10.
  shifted = [_det([[10, 10, 60, 41]], [0.9], [0]), _det([[0, 0, 40, 20]], [0.8], [1])]
  stats = detection.coco_evaluate([shifted[0], _det([], [], [])], ground_truths)
  assert stats["AP50"] == pytest.approx(0.5)  # class 0 found, class 1 missed
  stats = detection.coco_evaluate(shifted, ground_truths)
  assert stats["AP"] == pytest.approx((0.3 + 1.0) / 2)
  assert stats["AP75"] == pytest.approx(0.5)
