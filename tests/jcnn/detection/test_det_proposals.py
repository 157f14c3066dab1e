"""Selective search on a synthetic scene and a raccoon photo; exhaustive sliding windows."""
import numpy as np
import pytest
from PIL import Image

from jcnn import detection

OBJECTS = np.array([[20, 30, 70, 90], [100, 20, 150, 60], [90, 80, 180, 110]], np.float32)


@pytest.fixture(scope="module")
def scene():
  """Three flat-coloured rectangles on a noisy background: a 120 x 200 RGB image."""
  rng = np.random.default_rng(0)
  image = rng.integers(90, 130, (120, 200, 3)).astype(np.uint8)
  for (x1, y1, x2, y2), colour in zip(OBJECTS.astype(int), ([220, 30, 30], [30, 200, 40],
                                                          [40, 40, 230])):
    image[y1:y2, x1:x2] = colour
  return image


def test_selective_search_finds_the_objects(scene):
  boxes = detection.selective_search(scene, "single", min_box_size=0)
  assert boxes.dtype == np.float32 and boxes.shape[1] == 4
  assert len(np.unique(boxes, axis=0)) == len(boxes)
  assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= [200, 120])
  assert np.all(boxes[:, 2:] > boxes[:, :2])
  np.testing.assert_allclose(np.asarray(detection.box_iou(OBJECTS, boxes)).max(axis=1), 1.0)
  assert [0, 0, 200, 120] in boxes.tolist()  # the last merge is the whole image


def test_selective_search_ranking_is_seeded(scene):
  first = detection.selective_search(scene, "single", seed=1)
  np.testing.assert_array_equal(first, detection.selective_search(scene, "single", seed=1))
  other = detection.selective_search(scene, "single", seed=2)
  assert not np.array_equal(first, other)
  np.testing.assert_array_equal(np.unique(first, axis=0), np.unique(other, axis=0))


def test_selective_search_scales_boxes_back(scene):
  boxes = detection.selective_search(scene, "single", max_side=100, min_box_size=0)
  assert [0, 0, 200, 120] in boxes.tolist()
  assert np.asarray(detection.box_iou(OBJECTS, boxes)).max(axis=1).min() > 0.8


def test_selective_search_rejects_unknown_settings(scene):
  with pytest.raises(ValueError, match="strategy"):
    detection.selective_search(scene, "best")
  with pytest.raises(ValueError, match="c, t, s, f"):
    detection.selective_search(scene, similarities=("cx",))
  with pytest.raises(ValueError, match="colour space"):
    detection.selective_search(scene, colour_spaces=("xyz",))


@pytest.mark.data
def test_selective_search_recalls_a_raccoon(shared_data):
  record = detection.load_raccoon(shared_data)[0]
  image = np.asarray(Image.open(record["image_path"]).convert("RGB"))
  boxes = detection.selective_search(image, "fast")
  assert 500 < len(boxes) < 5000
  assert np.asarray(detection.box_iou(record["boxes"], boxes[:100])).max() >= 0.5


def test_sliding_windows_cover_the_image_exhaustively():
  windows = detection.sliding_windows((100, 120), [50, (30, 60), 200], 10)
  # 50 x 50: 6 rows x 8 columns; 30 x 60: 8 rows x 7 columns; 200: does not fit.
  assert windows.shape == (6 * 8 + 8 * 7, 4)
  np.testing.assert_array_equal(windows[:2], [[0, 0, 50, 50], [10, 0, 60, 50]])
  np.testing.assert_array_equal(windows[-1], [60, 70, 120, 100])
  assert np.all(windows[:, 2:] <= [120, 100])
