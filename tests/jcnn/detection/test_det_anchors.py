"""Anchors against py-faster-rcnn's published output and the Faster R-CNN paper's counts."""
import jax
import numpy as np
import pytest

from jcnn import detection

# rbgirshick/py-faster-rcnn, lib/rpn/generate_anchors.py: the output of
# generate_anchors() (base 16, ratios 0.5, 1, 2, scales 8, 16, 32), given in its comments
# (there 1-based from Shaoqing Ren's MATLAB code: subtract 1).
PY_FASTER_RCNN_ANCHORS = [[-84, -40, 99, 55], [-176, -88, 191, 103], [-360, -184, 375, 199],
                          [-56, -56, 71, 71], [-120, -120, 135, 135], [-248, -248, 263, 263],
                          [-36, -80, 51, 95], [-80, -168, 95, 183], [-168, -344, 183, 359]]


def test_generate_anchors_reproduces_py_faster_rcnn():
  anchors = detection.generate_anchors()
  assert anchors.dtype == np.float32
  np.testing.assert_array_equal(anchors, PY_FASTER_RCNN_ANCHORS)


def test_generate_anchors_reference_window_and_areas():
  np.testing.assert_array_equal(detection.generate_anchors(16, [1], [1]), [[0, 0, 15, 15]])
  widths = PY_FASTER_RCNN_ANCHORS[4][2] - PY_FASTER_RCNN_ANCHORS[4][0] + 1
  assert widths == 256  # scale 16 of the 16 x 16 window: the paper's 256^2 anchor


def test_vgg16_feature_map_gives_17100_anchors():
  shape = detection.feature_map_size((600, 800), 16)
  assert shape == (38, 50)
  assert detection.grid_anchors(detection.generate_anchors(), shape, 16).shape == (17100, 4)


def test_faster_rcnn_paper_anchor_count():
  # Ren et al. 2015, Sec. 3.3: "For a typical 1000 x 600 image, there will be roughly
  # 20000 (~ 60 x 40 x 9) anchors in total."
  height, width = detection.feature_map_size((600, 1000), 16)
  assert (height, width) == (38, 63)
  assert 19000 < height * width * 9 < 22000


def test_grid_order_is_y_then_x_then_anchor():
  base = detection.generate_anchors()
  grid = np.asarray(jax.jit(detection.grid_anchors, static_argnums=(1, 2))(base, (3, 5), 16))
  for y, x, a in ((0, 0, 0), (0, 1, 0), (2, 4, 8), (1, 3, 5)):
    np.testing.assert_array_equal(grid[(y * 5 + x) * 9 + a],
                                  base[a] + [16 * x, 16 * y, 16 * x, 16 * y])


def test_bad_arguments_are_reported():
  with pytest.raises(ValueError, match="ratios"):
    detection.generate_anchors(16, [0.5, -1], [8])
  with pytest.raises(ValueError, match="stride"):
    detection.feature_map_size((600, 800), 0)
  with pytest.raises(ValueError, match=r"\[A, 4\]"):
    detection.grid_anchors(np.zeros((9, 5)), (3, 3), 16)
