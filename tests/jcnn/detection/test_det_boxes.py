"""Box formats, areas, IoU and clipping: by hand, and against NumPy on random boxes."""
import jax
import numpy as np
import pytest

from jcnn import detection


def _numpy_iou(a, b, one=0.0):
  """The textbook pairwise IoU (torchvision's formula), 0 where the union is empty."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
  ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
  inter = np.maximum(iw + one, 0) * np.maximum(ih + one, 0)
  area = lambda x: (np.maximum(x[:, 2] - x[:, 0] + one, 0)
                    * np.maximum(x[:, 3] - x[:, 1] + one, 0))
  union = area(a)[:, None] + area(b)[None, :] - inter
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(union > 0, inter / union, 0.0)


def test_iou_by_hand():
  a = np.array([[0, 0, 2, 2], [0, 0, 4, 4]], np.float32)
  b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [2, 0, 4, 2], [5, 5, 6, 6]], np.float32)
  expected = [[1 / 7, 1, 0, 0],        # overlap 1 of 4 + 4 - 1; identical; touching edge
              [4 / 16, 4 / 16, 4 / 16, 0]]  # contained
  np.testing.assert_allclose(detection.box_iou(a, b), expected, rtol=1e-6)


def test_iou_legacy_pixel_counts_inclusive_pixels():
  # py-faster-rcnn's bbox_overlaps: [0, 0, 1, 1] is 2 x 2 pixels, sharing 1 with [1, 1, 2, 2].
  iou = detection.box_iou([[0, 0, 1, 1]], [[1, 1, 2, 2]], legacy_pixel=True)
  np.testing.assert_allclose(iou, [[1 / 7]], rtol=1e-6)
  assert float(detection.box_iou([[0, 0, 1, 1]], [[1, 1, 2, 2]])[0, 0]) == 0.0


def test_degenerate_boxes_are_empty_and_iou_zero():
  point = [[3, 3, 3, 3]]
  inverted = [[4, 4, 2, 2]]
  assert float(detection.box_iou(point, point)[0, 0]) == 0.0  # torchvision: 0 / 0 = NaN
  np.testing.assert_array_equal(detection.box_area(np.array(point + inverted)), [0, 0])
  assert float(detection.box_iou(inverted, [[0, 0, 5, 5]])[0, 0]) == 0.0


def test_formats_convert_and_agree():
  xyxy = np.array([[10, 20, 40, 60]], np.float32)
  np.testing.assert_array_equal(detection.convert_boxes(xyxy, "xyxy", "xywh"),
                                [[10, 20, 30, 40]])
  np.testing.assert_array_equal(detection.convert_boxes(xyxy, "xyxy", "cxcywh"),
                                [[25, 40, 30, 40]])
  np.testing.assert_array_equal(detection.convert_boxes([[25, 40, 30, 40]], "cxcywh", "xyxy"),
                                xyxy)
  # py-faster-rcnn's _whctrs: [0, 0, 15, 15] is 16 wide, centered on pixel 7.5.
  np.testing.assert_array_equal(
      detection.convert_boxes([[0, 0, 15, 15]], "xyxy", "cxcywh", legacy_pixel=True),
      [[7.5, 7.5, 16, 16]])
  rng = np.random.default_rng(0)
  a, b = rng.uniform(0, 50, (6, 4)), rng.uniform(0, 50, (5, 4))
  a[:, 2:] += a[:, :2]
  b[:, 2:] += b[:, :2]
  expected = detection.box_iou(a, b)
  for fmt in ("xywh", "cxcywh"):
    converted = [detection.convert_boxes(x, "xyxy", fmt) for x in (a, b)]
    np.testing.assert_allclose(detection.box_iou(*converted, fmt=fmt), expected, atol=1e-6)
    np.testing.assert_allclose(detection.convert_boxes(converted[0], fmt, "xyxy"), a,
                               atol=1e-5)


def test_iou_matches_numpy_on_1000_random_sets():
  """Integer corners make duplicates, shared edges and zero-area boxes common."""
  rng = np.random.default_rng(1)
  for one, legacy in ((0.0, False), (1.0, True)):
    corners = rng.integers(0, 12, (1000, 2, 15, 2)).astype(np.float32)
    sides = rng.integers(0, 6, (1000, 2, 15, 2)).astype(np.float32)
    sides[:, :, :3] = 0  # zero-area boxes in every set
    boxes = np.concatenate([corners, corners + sides - one * (sides > 0)], axis=-1)
    boxes[:, 1, 5:8] = boxes[:, 0, 5:8]  # duplicates across the two sides
    actual = jax.vmap(lambda a, b: detection.box_iou(a, b, legacy_pixel=legacy))(
        boxes[:, 0], boxes[:, 1])
    expected = np.stack([_numpy_iou(a, b, one) for a, b in boxes])
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)
  floats = rng.uniform(-20, 100, (300, 4)).astype(np.float32)
  np.testing.assert_allclose(detection.box_iou(floats[:170], floats[170:]),
                             _numpy_iou(floats[:170], floats[170:]), rtol=1e-5, atol=1e-6)
  assert detection.box_iou(np.zeros((0, 4)), floats).shape == (0, 300)


def test_the_host_iou_is_the_jitted_one_in_numpy():
  from jcnn.detection.boxes import box_iou_host
  rng = np.random.default_rng(2)
  corners = rng.integers(0, 12, (2, 40, 2)).astype(np.float32)
  boxes = np.concatenate([corners, corners + rng.integers(0, 6, (2, 40, 2))], axis=-1)
  iou = box_iou_host(boxes[0], boxes[1])
  assert isinstance(iou, np.ndarray) and iou.dtype == np.float32
  np.testing.assert_allclose(iou, detection.box_iou(boxes[0], boxes[1]), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(iou, _numpy_iou(boxes[0], boxes[1]), rtol=1e-6, atol=1e-7)
  assert box_iou_host(np.zeros((0, 4)), boxes[1]).shape == (0, 40)


def test_clip_boxes_both_conventions():
  boxes = [[-5, -5, 700, 300], [10, 20, 30, 40]]
  np.testing.assert_array_equal(detection.clip_boxes(boxes, (200, 640)),
                                [[0, 0, 640, 200], [10, 20, 30, 40]])
  np.testing.assert_array_equal(detection.clip_boxes(boxes, (200, 640), legacy_pixel=True),
                                [[0, 0, 639, 199], [10, 20, 30, 40]])


def test_bad_inputs_are_reported():
  with pytest.raises(ValueError, match="xyxy"):
    detection.box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], fmt="yxyx")
  with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
    detection.box_area(np.zeros((3, 5)))
  with pytest.raises(ValueError, match="height, width"):
    detection.clip_boxes([[0, 0, 1, 1]], (1, 2, 3))
