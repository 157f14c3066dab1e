"""R-CNN box regression: the formulas by hand, the clamp, and exact round trips."""
import math

import jax
import numpy as np
import pytest

from jcnn import detection


def test_encode_by_hand():
  # Girshick et al. 2014, App. C: tx = (Gx - Px) / Pw, tw = log(Gw / Pw).
  deltas = detection.encode([[5, 10, 25, 50]], [[0, 0, 10, 20]])
  np.testing.assert_allclose(deltas, [[1.0, 1.0, math.log(2), math.log(2)]], rtol=1e-6)
  weighted = detection.encode([[5, 10, 25, 50]], [[0, 0, 10, 20]], weights=(10, 10, 5, 5))
  np.testing.assert_allclose(weighted, [[10.0, 10.0, 5 * math.log(2), 5 * math.log(2)]],
                             rtol=1e-6)


def test_encode_legacy_pixel_as_py_faster_rcnn():
  # bbox_transform: ex [0, 0, 9, 9] is 10 wide, centered at 5; gt [0, 0, 19, 19] at 10.
  deltas = detection.encode([[0, 0, 19, 19]], [[0, 0, 9, 9]], legacy_pixel=True)
  np.testing.assert_allclose(deltas, [[0.5, 0.5, math.log(2), math.log(2)]], rtol=1e-6)


def test_decode_clamps_scale_at_log_1000_over_16():
  # torchvision's BoxCoder: dw is clamped at log(1000 / 16) before exp.
  boxes = detection.decode([[0.0, 0.0, 100.0, 0.0]], [[0, 0, 16, 16]])
  np.testing.assert_allclose(boxes, [[8 - 500, 0, 8 + 500, 16]], rtol=1e-5)
  unclamped = detection.decode([[0.0, 0.0, 5.0, 0.0]], [[0, 0, 16, 16]], clamp=None)
  np.testing.assert_allclose(unclamped[0, 2] - unclamped[0, 0], 16 * math.exp(5), rtol=1e-5)


@pytest.mark.parametrize("legacy_pixel", [False, True])
@pytest.mark.parametrize("weights", [(1, 1, 1, 1), (10, 10, 5, 5)])
def test_round_trip(legacy_pixel, weights):
  rng = np.random.default_rng(0)
  anchors = rng.uniform(0, 300, (500, 4)).astype(np.float32)
  anchors[:, 2:] = anchors[:, :2] + rng.uniform(8, 200, (500, 2))
  boxes = rng.uniform(0, 300, (500, 4)).astype(np.float32)
  boxes[:, 2:] = boxes[:, :2] + rng.uniform(8, 200, (500, 2))
  deltas = detection.encode(boxes, anchors, weights, legacy_pixel)
  decoded = jax.jit(detection.decode, static_argnums=(2, 3, 4))(deltas, anchors, weights,
                                                                 None, legacy_pixel)
  np.testing.assert_allclose(decoded, boxes, atol=2e-3)


def test_weights_must_be_four():
  with pytest.raises(ValueError, match="wx, wy, ww, wh"):
    detection.encode([[0, 0, 1, 1]], [[0, 0, 1, 1]], weights=(1, 1))
