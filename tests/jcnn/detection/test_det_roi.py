"""RoI pooling, RoI Align and spatial pyramid pooling against loop-by-loop NumPy copies of
torchvision's CPU kernels (roi_pool_kernel.cpp, roi_align_kernel.cpp) and SPP-net's rules."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import detection
from jcnn.detection import roi


def _c_round(v):
  return int(np.sign(v) * np.floor(abs(v) + 0.5))


def _reference_roi_pool(features, rois, out, scale):
  """torchvision's roi_pool_forward_kernel_impl, float32 as there; also its argmax."""
  batch, height, width, channels = features.shape
  output = np.zeros((len(rois), out, out, channels), np.float32)
  argmax = np.full((len(rois), out, out, channels), -1)
  for n, roi in enumerate(rois):
    b = int(roi[0])
    x1, y1, x2, y2 = (_c_round(v) for v in roi[1:] * np.float32(scale))
    bin_h = np.float32(max(y2 - y1 + 1, 1)) / np.float32(out)
    bin_w = np.float32(max(x2 - x1 + 1, 1)) / np.float32(out)
    for ph in range(out):
      for pw in range(out):
        hs = min(max(int(np.floor(np.float32(ph) * bin_h)) + y1, 0), height)
        he = min(max(int(np.ceil(np.float32(ph + 1) * bin_h)) + y1, 0), height)
        ws = min(max(int(np.floor(np.float32(pw) * bin_w)) + x1, 0), width)
        we = min(max(int(np.ceil(np.float32(pw + 1) * bin_w)) + x1, 0), width)
        for c in range(channels):
          best = -np.inf
          for h in range(hs, he):
            for w in range(ws, we):
              if features[b, h, w, c] > best:
                best = features[b, h, w, c]
                argmax[n, ph, pw, c] = (b * height + h) * width + w
          output[n, ph, pw, c] = best if argmax[n, ph, pw, c] >= 0 else 0.0
  return output, argmax


def _bilinear(fmap, y, x):
  height, width = fmap.shape[:2]
  if y < -1.0 or y > height or x < -1.0 or x > width:
    return np.zeros(fmap.shape[-1])
  y, x = max(y, 0.0), max(x, 0.0)
  y_low, x_low = int(y), int(x)
  if y_low >= height - 1:
    y_high = y_low = height - 1
    y = float(y_low)
  else:
    y_high = y_low + 1
  if x_low >= width - 1:
    x_high = x_low = width - 1
    x = float(x_low)
  else:
    x_high = x_low + 1
  ly, lx = y - y_low, x - x_low
  hy, hx = 1 - ly, 1 - lx
  return (hy * hx * fmap[y_low, x_low] + hy * lx * fmap[y_low, x_high]
          + ly * hx * fmap[y_high, x_low] + ly * lx * fmap[y_high, x_high])


def _reference_roi_align(features, rois, out, scale, sampling_ratio, aligned):
  """torchvision's roi_align_forward_kernel_impl (and its pre_calc bilinear rules)."""
  output = np.zeros((len(rois), out, out, features.shape[-1]))
  offset = np.float32(0.5 if aligned else 0.0)
  for n, roi in enumerate(rois):
    fmap = features[int(roi[0])].astype(np.float64)
    x1, y1, x2, y2 = (np.float32(v) * np.float32(scale) - offset for v in roi[1:])
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
      roi_w, roi_h = max(roi_w, np.float32(1)), max(roi_h, np.float32(1))
    bin_h, bin_w = roi_h / np.float32(out), roi_w / np.float32(out)
    grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out)
    grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out)
    count = max(grid_h * grid_w, 1)
    for ph in range(out):
      for pw in range(out):
        total = 0.0
        for iy in range(grid_h):
          y = y1 + ph * bin_h + np.float32(iy + 0.5) * bin_h / np.float32(grid_h)
          for ix in range(grid_w):
            x = x1 + pw * bin_w + np.float32(ix + 0.5) * bin_w / np.float32(grid_w)
            total = total + _bilinear(fmap, float(y), float(x))
        output[n, ph, pw] = total / count
  return output


@pytest.fixture(scope="module")
def case():
  """Features of 2 images and rois inside, across and outside the map, some inverted,
  some tiny, some on exact halves (C's round goes away from zero, NumPy's to even)."""
  rng = np.random.default_rng(0)
  features = rng.standard_normal((2, 9, 11, 3)).astype(np.float32)
  features[0, 2:5, 3:6, 1] = 0.5  # ties: the gradient goes to the first maximum
  corners = rng.uniform(-40, 200, (40, 2))
  rois = np.concatenate([rng.integers(0, 2, (40, 1)), corners,
                         corners + rng.uniform(-10, 160, (40, 2))], axis=1)
  rois[:4, 1:] = [[8, 8, 24, 24], [24, 40, 72, 88], [-8, -8, 8, 8], [0, 0, 500, 500]]
  return features, rois.astype(np.float32)


@pytest.mark.parametrize("out", [3, 7])  # 1 x 1: see test_roi_spatial_pyramid_pool
def test_roi_pool_matches_torchvision_kernel(case, out):
  features, rois = case
  expected, _ = _reference_roi_pool(features, rois, out, 1 / 16)
  np.testing.assert_array_equal(detection.roi_pool(features, rois, out, 1 / 16), expected)
  if out == 7:
    jitted = jax.jit(lambda f, r: detection.roi_pool(f, r, out, 1 / 16))
    np.testing.assert_array_equal(jitted(features, rois), expected)


def test_roi_pool_gradient_goes_to_the_first_maximum(case):
  features, rois = case
  _, argmax = _reference_roi_pool(features, rois, 3, 1 / 16)
  expected = np.zeros(features.size)
  channel = np.broadcast_to(np.arange(features.shape[-1]), argmax.shape)
  np.add.at(expected, (argmax * features.shape[-1] + channel)[argmax >= 0], 1.0)
  grad = jax.grad(lambda f: detection.roi_pool(f, rois, 3, 1 / 16).sum())(features)
  np.testing.assert_array_equal(np.asarray(grad).ravel(), expected)


def test_roi_pool_batch_indices_forms_agree(case):
  features, rois = case
  with_column = detection.roi_pool(features, rois, 3, 1 / 16)
  separate = detection.roi_pool(features, rois[:, 1:], 3, 1 / 16,
                                batch_indices=rois[:, 0].astype(np.int32))
  np.testing.assert_array_equal(with_column, separate)
  with pytest.raises(ValueError, match="batch_indices"):
    detection.roi_pool(features, rois[:, 1:], 3, 1 / 16)


@pytest.mark.parametrize("sampling_ratio, aligned", [(-1, False), (2, True)])
def test_roi_align_matches_torchvision_kernel(case, sampling_ratio, aligned):
  features, rois = case
  expected = _reference_roi_align(features, rois, 3, 1 / 16, sampling_ratio, aligned)
  actual = detection.roi_align(features, rois, 3, 1 / 16, sampling_ratio, aligned)
  # float32 rounding of the sample coordinates moves bilinear weights by ~1e-6.
  np.testing.assert_allclose(actual, expected, atol=2e-5)


def test_roi_align_under_jit(case):
  features, rois = case
  adaptive = jax.jit(lambda f, r: detection.roi_align(f, r, 3, 1 / 16, aligned=True,
                                                      max_sampling_ratio=32))
  np.testing.assert_allclose(adaptive(features, rois),
                             _reference_roi_align(features, rois, 3, 1 / 16, -1, True),
                             atol=2e-5)
  with pytest.raises(ValueError, match="max_sampling_ratio"):
    jax.jit(lambda f, r: detection.roi_align(f, r, 3, 1 / 16))(features, rois)


def test_roi_align_gradient_is_the_bilinear_weights(case):
  # Each output is linear in the features, so the gradient of one bin is its weights: they
  # sum to the fraction of its samples inside the map (1 for a roi well inside).
  features, rois = case
  inside = np.array([[0, 16, 16, 96, 80]], np.float32)
  grad = jax.grad(lambda f: detection.roi_align(f, inside, 2, 1 / 16, 2)[0, 1, 0, 2])(
      features)
  assert np.asarray(grad).sum() == pytest.approx(1.0)
  assert np.count_nonzero(np.asarray(grad)[..., :2]) == 0  # other channels untouched


def _reference_spp(x, levels):
  """SPP-net, Sec. 2.3: per level n, windows ceil(a / n) at stride floor(a / n); the first
  n per axis."""
  batch, height, width, channels = x.shape
  out = []
  for n in levels:
    wh, ww = math.ceil(height / n), math.ceil(width / n)
    sh, sw = height // n, width // n
    level = np.array([[x[:, i * sh:i * sh + wh, j * sw:j * sw + ww].max(axis=(1, 2))
                       for j in range(n)] for i in range(n)])  # [n, n, B, C]
    out.append(level.transpose(2, 0, 1, 3).reshape(batch, -1))
  return np.concatenate(out, axis=1)


def test_spatial_pyramid_pool_fixed_length_for_any_size():
  rng = np.random.default_rng(0)
  lengths = set()
  for size in ((13, 13), (10, 10), (7, 9)):  # SPP-net's 224 and 180 inputs give 13, 10
    x = rng.standard_normal((2, *size, 5)).astype(np.float32)
    pooled = detection.spatial_pyramid_pool(x)
    np.testing.assert_array_equal(pooled, _reference_spp(x, (4, 2, 1)))
    np.testing.assert_array_equal(pooled[:, -5:], x.max(axis=(1, 2)))
    lengths.add(pooled.shape)
  assert lengths == {(2, (16 + 4 + 1) * 5)}
  with pytest.raises(ValueError, match="level"):
    detection.spatial_pyramid_pool(np.zeros((1, 3, 3, 1)), (4, 2, 1))


def test_spp_box_projection_appendix_a():
  # He et al. 2014, App. A, S = 16: left/top floor(x / S) + 1, right/bottom ceil(x / S) - 1.
  np.testing.assert_array_equal(detection.spp_project_boxes([[0, 35, 100, 200]], 16),
                                [[1, 3, 6, 12]])
  # Exact multiples stay exact (36 / 12 = 3) with a stride that is no power of two.
  np.testing.assert_array_equal(detection.spp_project_boxes([[36, 24, 36, 24]], 12),
                                [[4, 3, 2, 1]])


def test_roi_spatial_pyramid_pool():
  rng = np.random.default_rng(0)
  features = rng.standard_normal((1, 20, 30, 4)).astype(np.float32)
  boxes = np.array([[0, 0, 479, 319], [40, 60, 200, 180]], np.float32)
  pooled = detection.roi_spatial_pyramid_pool(features, boxes, 16)
  assert pooled.shape == (2, (36 + 9 + 4 + 1) * 4)
  cells = np.asarray(detection.spp_project_boxes(boxes, 16))
  for k, (x1, y1, x2, y2) in enumerate(cells):
    np.testing.assert_array_equal(pooled[k, -4:],
                                  features[0, y1:y2 + 1, x1:x2 + 1].max(axis=(0, 1)))


def test_projection_by_cell_centres_takes_the_cells_a_window_holds():
  # LeNet-5's S4: stride 4, first centre at 8 px (5×5 valid conv: 2.5; pool: 3.0; conv
  # at jump 2: 7.0; pool: 8.0). Centres 8, 12, 16, 20 lie in [7, 21): cells 0-3.
  np.testing.assert_array_equal(
      detection.spp_project_boxes([[7, 7, 21, 21]], 4, offset=8.0), [[0, 0, 3, 3]])
  # A window holding no centre takes the cell nearest its own centre (13 -> 1.25 -> 1).
  np.testing.assert_array_equal(
      detection.spp_project_boxes([[12.5, 12.5, 13.5, 13.5]], 4, offset=8.0), [[1, 1, 1, 1]])


def test_the_50_bin_pyramid_has_one_length_for_every_box_size():
  features = np.random.default_rng(0).standard_normal((1, 29, 29, 16)).astype(np.float32)
  boxes = np.array([[40, 40, 44, 44], [10, 20, 30, 100], [0, 0, 128, 128]], np.float32)
  pooled = detection.roi_spatial_pyramid_pool(features, boxes, 4, offset=8.0)
  assert pooled.shape == (3, 50 * 16)
  # The 1×1 level is the max over the projected cells.
  np.testing.assert_array_equal(pooled[2, -16:], features[0].max(axis=(0, 1)))


def test_masked_pyramid_pooling_gives_the_sparse_tables_values():
  # SPP-net's fine-tuning batches (one window per map) take the masked path; windows
  # partly outside, smaller than a cell and covering the map included.
  from jcnn.detection import roi
  rng = np.random.default_rng(3)
  features = rng.standard_normal((4, 29, 29, 5)).astype(np.float32)
  cells = np.array([[0, 0, 28, 28], [3, 5, 9, 6], [-4, 20, 40, 40], [7, 7, 7, 7],
                    [10, 2, 12, 27], [30, 30, 33, 33]], np.float32)
  index = np.array([0, 1, 2, 3, 0, 1], np.int32)
  levels = ((6, 6), (3, 3), (2, 2), (1, 1))
  masked = roi._roi_pool_masked(features, cells, index, output_sizes=levels)
  table = roi._roi_pool(features, cells, index, 1.0, output_sizes=levels)
  for a, b in zip(masked, table):
    np.testing.assert_array_equal(a, b)


def _random_boxes(rng, count, low, high, longest):
  """`count` xyxy boxes with corners in [low, high) and sides in [1, longest)."""
  xy = rng.uniform(low, high, (count, 2))
  return np.concatenate([xy, xy + rng.uniform(1, longest, (count, 2))], 1).astype(np.float32)


def test_pyramid_pooling_from_values_alone_gives_the_same_values():
  # SPP-net's frozen conv layers take no gradient: the table needs no argmax positions.
  rng = np.random.default_rng(4)
  features = rng.standard_normal((1, 45, 60, 8)).astype(np.float32)
  boxes = _random_boxes(rng, 300, -40, 450, 200)
  with_positions = detection.roi_spatial_pyramid_pool(features, boxes, 8, offset=4.0)
  values_only = detection.roi_spatial_pyramid_pool(features, boxes, 8, offset=4.0,
                                                   first_maximum=False)
  np.testing.assert_array_equal(values_only, with_positions)


def test_roi_pool_from_values_alone_gives_the_same_values_and_shares_ties():
  # Faster R-CNN's test-time box head pools without argmax positions.
  rng = np.random.default_rng(5)
  features = rng.standard_normal((2, 31, 40, 6)).astype(np.float32)
  boxes = _random_boxes(rng, 200, -30, 600, 400)
  index = rng.integers(0, 2, 200).astype(np.int32)
  kwargs = dict(spatial_scale=1 / 16, batch_indices=index)
  np.testing.assert_array_equal(
      detection.roi_pool(features, boxes, 7, first_maximum=False, **kwargs),
      detection.roi_pool(features, boxes, 7, **kwargs))
  tied = jnp.ones((1, 2, 2, 1))   # one bin over four equal cells
  box = jnp.array([[0.0, 0.0, 1.0, 1.0]])
  grad = jax.grad(lambda f: detection.roi_pool(f, box, 1, first_maximum=False).sum())(tied)
  first = jax.grad(lambda f: detection.roi_pool(f, box, 1).sum())(tied)
  assert float(grad.sum()) == pytest.approx(1.0) and float(grad.min()) > 0
  np.testing.assert_array_equal(first[0, :, :, 0], [[1, 0], [0, 0]])


def test_roi_pool_bounded_by_the_image_equals_the_full_table_with_fewer_levels():
  # Faster R-CNN's rois lie inside the input (clipped proposals, ground truth), so the
  # table stops at the windows their 7x7 bins can span: VGG-16 at 600x1000 (a 37x62
  # map, stride 16): bins of at most ceil(40 / 7) + 3 = 9 and ceil(65 / 7) + 3 = 13
  # cells, levels up to 8 of 32: 4 x 4 maps instead of 6 x 6.
  assert roi._table_levels((37, 62), ((7, 7),)) == (6, 6)
  assert roi._table_levels((37, 62), ((7, 7),), (40, 65)) == (4, 4)
  assert roi._table_levels((37, 62), ((1, 1),), (40, 65)) == (6, 6)
  rng = np.random.default_rng(6)
  features = jnp.asarray(rng.standard_normal((2, 37, 62, 3)), jnp.float32)
  corners = np.sort(rng.uniform(0, [999, 599, 999, 599], (300, 2, 4)), axis=1)
  boxes = np.concatenate([corners[:, 0, :2], corners[:, 1, 2:]], axis=1)
  # The largest and thinnest rois the image allows.
  boxes[:4] = [[0, 0, 999, 599], [0, 0, 999, 0], [0, 0, 0, 599], [500, 0, 999, 599]]
  index = jnp.asarray(rng.integers(0, 2, 300), jnp.int32)
  def pool(f, bound, first_maximum=True):  # True: training's table (with positions)
    return detection.roi_pool(f, boxes, 7, 1 / 16, batch_indices=index,
                              first_maximum=first_maximum, max_roi_size=bound)

  for first_maximum in (True, False):
    np.testing.assert_array_equal(pool(features, (600, 1000), first_maximum),
                                  pool(features, None, first_maximum))
  grads = [jax.grad(lambda f: (pool(f, bound) ** 2).sum())(features)
           for bound in ((600, 1000), None)]
  np.testing.assert_array_equal(*grads)
