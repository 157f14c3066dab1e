"""draw_detections: RGB, enlarged small images, one colour per class, bad input."""
import numpy as np
import pytest

from jcnn import detection
from jcnn.detection.draw import class_color

NAMES = ("zero", "one", "two")


def _count(picture, color):
  return int(np.all(np.asarray(picture) == color, axis=-1).sum())


def test_a_small_grayscale_image_becomes_an_enlarged_rgb_picture():
  image = np.full((32, 48, 1), 40, np.uint8)
  picture = detection.draw_detections(image, [[2, 2, 20, 20], [25, 5, 45, 30]], [0, 2],
                                      [0.93, 0.5], NAMES,
                                      ground_truth={"boxes": [[4, 4, 30, 28]], "labels": [1]})
  assert picture.mode == "RGB" and picture.size == (48 * 11, 32 * 11)  # ceil(512 / 48)
  for label in (0, 1, 2):  # the two detections and the ground truth box
    assert _count(picture, class_color(label)) > 100, label
  assert len({class_color(c) for c in range(20)}) == 20


def test_a_large_image_keeps_its_size_and_an_empty_one_draws_nothing():
  image = np.zeros((600, 800, 3), np.uint8)
  picture = detection.draw_detections(image, np.zeros((0, 4)), [], [], NAMES)
  assert picture.size == (800, 600)
  assert not np.asarray(picture).any()


def test_bad_input_is_refused():
  image = np.zeros((10, 10), np.uint8)
  with pytest.raises(ValueError, match="label 3 is not a class: there are 3"):
    detection.draw_detections(image, [[0, 0, 5, 5]], [3], [0.9], NAMES)
  with pytest.raises(ValueError, match="uint8"):
    detection.draw_detections(image.astype(np.float32), [], [], [], NAMES)
  with pytest.raises(ValueError, match="differ in length: 1, 2, 1"):
    detection.draw_detections(image, [[0, 0, 5, 5]], [0, 1], [0.9], NAMES)
