"""Region pooling: RoI max pooling, RoI Align, spatial pyramid pooling, SPP-net's box mapping.

Features are NHWC, [batch, height, width, channels]; regions are image-space xyxy boxes,
scaled onto the feature map by `spatial_scale` (1 / stride). Regions are given as
[K, 4] with optional `batch_indices` [K], or as torchvision's [K, 5] rows
(batch_index, x1, y1, x2, y2). Every op is vectorised over the regions (no Python loop),
jit-compatible and differentiable with respect to the features.
"""
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.nn import max_pool
from jcnn.padding import check_nhwc, to_pair


def _regions(features, rois, batch_indices):
  """Checks the inputs; returns float rois [K, 4] and int32 batch indices [K]."""
  check_nhwc(features, "features")
  rois = jnp.asarray(rois)
  if rois.ndim != 2 or rois.shape[1] not in (4, 5):
    raise ValueError(f"rois must be [K, 4] (with batch_indices) or [K, 5] "
                     f"(batch_index, x1, y1, x2, y2), got {rois.shape}")
  if rois.shape[1] == 5:
    if batch_indices is not None:
      raise ValueError("give batch indices either as rois[:, 0] or as batch_indices, "
                       "not both")
    batch_indices, rois = rois[:, 0], rois[:, 1:]
  elif batch_indices is None:
    if features.shape[0] != 1:
      raise ValueError(f"features hold {features.shape[0]} images: say which image each "
                       "roi is on, with batch_indices or [K, 5] rois")
    batch_indices = jnp.zeros(rois.shape[:1], jnp.int32)
  batch_indices = jnp.asarray(batch_indices).astype(jnp.int32)
  if batch_indices.shape != rois.shape[:1]:
    raise ValueError(f"batch_indices must be [{rois.shape[0]}], got {batch_indices.shape}")
  # Coordinates stay float32 (or float64) even for bfloat16 features: 8 mantissa bits
  # would move a box edge at x = 500 by up to 2 pixels.
  coordinates = jnp.float64 if rois.dtype == jnp.float64 else jnp.float32
  return rois.astype(coordinates), batch_indices


def _round_half_away(x):
  """C's `round`: halves away from zero (jnp.round rounds them to even)."""
  return jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)


def _divide(x, y):
  """x / y rounded as one IEEE division, as the C++ kernels do.

  XLA rewrites a division by a constant or broadcast divisor into a multiplication by its
  rounded reciprocal, which moves floor/ceil bin edges (9 * (1 / 7) * 7 > 9); a divisor
  of x's full shape behind an optimization barrier keeps the true division.
  """
  y = jnp.broadcast_to(jnp.asarray(y, x.dtype), x.shape)
  return x / jax.lax.optimization_barrier(y)


def roi_pool(features: jax.Array, rois: jax.Array, output_size: int | tuple[int, int],
             spatial_scale: float = 1.0,
             batch_indices: jax.Array | None = None,
             first_maximum: bool = True,
             max_roi_size: tuple[int, int] | None = None) -> jax.Array:
  """Fast R-CNN's RoI max pooling, with Caffe's (and torchvision's) integer rules.

  Each roi is scaled and rounded to whole cells (halves away from zero), forced to at
  least 1 x 1, and split into output_size bins whose edges are floor(i * bin) and
  ceil((i + 1) * bin) cells from its corner, clipped to the map; a bin with no cell
  outputs 0. As in torchvision, the gradient of a bin goes to its first maximum in
  row-major order.

  Every bin is answered in constant time from a 2-D sparse table of the map (the maximum
  and its position over every 2^i x 2^j window; Bentley's range-maximum query): four
  overlapping power-of-two windows cover any rectangle. Memory is
  (log2(height) + 1) * (log2(width) + 1) times the features, whatever the number of rois.

  Args:
    features: [batch, height, width, channels].
    rois: [K, 4] xyxy in image coordinates, or [K, 5] with the batch index first.
    output_size: int or (out_height, out_width), e.g. 7 for VGG-16's fc6.
    spatial_scale: feature cells per image pixel, 1 / 16 for VGG-16's conv5_3.
    batch_indices: int [K], the image of each roi (needed when batch > 1).
    first_maximum: False pools from the values alone, about twice as fast, ties sharing
      the gradient (the same values; for inference, where no gradient is taken).
    max_roi_size: (height, width) in image pixels that no roi exceeds, e.g. the input's
      for rois clipped to the image (Faster R-CNN's). The table then stops at the window
      sizes such rois' bins can need (VGG-16 at 600×1000, 7×7 bins: 16 of its 36 maps,
      half the pooling's time); a larger roi would pool wrong values. Needs a Python
      `spatial_scale`.

  Returns:
    [K, out_height, out_width, channels].
  """
  rois, batch_indices = _regions(features, rois, batch_indices)
  max_cells = None
  if max_roi_size is not None:
    # round(y2 * s) - round(y1 * s) + 1 cells at most, for y2 - y1 <= the bound.
    max_cells = tuple(math.ceil(side * float(spatial_scale)) + 2
                      for side in to_pair(max_roi_size, "max_roi_size"))
  return _roi_pool(features, rois, batch_indices, spatial_scale,
                   output_sizes=(to_pair(output_size, "output_size"),),
                   first_maximum=first_maximum, max_cells=max_cells)[0]


@functools.partial(jax.jit, static_argnames=("output_sizes", "first_maximum", "max_cells"))
def _roi_pool(features, rois, batch_indices, spatial_scale, *, output_sizes,
              first_maximum=True, max_cells=None):
  """RoI max pooling at several output sizes from one sparse table: a list of
  [K, out_height, out_width, channels]. Without `first_maximum` the table holds values
  only (half the reads) and ties share the gradient. `max_cells` (h, w) bounds every
  roi's extent in cells, and so the table's levels."""
  batch, height, width, channels = features.shape
  corners = _round_half_away(rois * jnp.asarray(spatial_scale, rois.dtype)).astype(jnp.int32)
  levels = _table_levels((height, width), output_sizes, max_cells)
  if first_maximum:
    values, positions = _sparse_table(jax.lax.stop_gradient(features), levels=levels)
  else:
    values, positions = _sparse_table(features, with_positions=False, levels=levels), None
  levels_w = values.shape[1]
  values = values.reshape(-1, channels)
  positions = None if positions is None else positions.reshape(-1, channels)

  def bins(start, end, num_bins, size, num_levels):
    """Per bin: its first cell, the last window start that ends at its end, the window's
    level (log2 of its extent, rounded down), and whether the bin is empty."""
    lo, hi = _bin_edges(start, end, num_bins, size, rois.dtype)
    extent = jnp.maximum(hi - lo, 1)
    level = sum((extent >= 2 ** j).astype(jnp.int32) for j in range(1, num_levels))
    first = jnp.minimum(lo, size - 1)
    return first, jnp.maximum(hi - jnp.left_shift(1, level), first), level, hi <= lo

  outputs = []
  for out_h, out_w in output_sizes:
    y_lo, y_hi, level_y, empty_y = bins(corners[:, 1], corners[:, 3], out_h, height,
                                        levels[0])
    x_lo, x_hi, level_x, empty_x = bins(corners[:, 0], corners[:, 2], out_w, width,
                                        levels[1])
    image = batch_indices[:, None, None]
    level_y, level_x = level_y[:, :, None], level_x[:, None, :]
    best_value, best_position = None, None
    for y in (y_lo, y_hi):  # the four corner-anchored windows that cover each bin
      for x in (x_lo, x_hi):
        row = (((level_y * levels_w + level_x) * batch + image) * height
               + y[:, :, None]) * width + x[:, None, :]
        value = values[row]  # [K, out_h, out_w, channels]
        if positions is None:
          best_value = value if best_value is None else jnp.maximum(best_value, value)
          continue
        position = positions[row]
        if best_value is None:
          best_value, best_position = value, position
        else:
          better = (value > best_value) | ((value == best_value)
                                           & (position < best_position))
          best_value = jnp.where(better, value, best_value)
          best_position = jnp.where(better, position, best_position)
    pooled = (best_value if positions is None
              else _gather_channels(features, best_position))
    empty = (empty_y[:, :, None] | empty_x[:, None, :])[..., None]
    outputs.append(jnp.where(empty, jnp.zeros((), features.dtype), pooled))
  return outputs


def _table_levels(map_size, output_sizes, max_cells=None) -> tuple[int, int]:
  """(levels_h, levels_w) of the sparse table: every window the map holds, or, for rois
  of at most `max_cells` (h, w) cells, those their bins can need. A bin spans at most
  ceil(cells / bins) + 1 cells; 2 more allow for floor and ceil of rounded products."""
  levels = tuple(side.bit_length() for side in map_size)
  if max_cells is None:
    return levels
  return tuple(min(full, max(math.ceil(cells / out) + 3 for out in outs).bit_length())
               for full, cells, outs in zip(levels, max_cells, zip(*output_sizes)))


def _bin_edges(start, end, num_bins, size, dtype):
  """Caffe's bins of the cells start..end (inclusive, at least one): per roi and bin,
  its first cell and one past its last, clipped to [0, size] ([K, num_bins] each)."""
  length = jnp.maximum(end - start + 1, 1).astype(dtype)[:, None]
  bin_size = _divide(length, num_bins)
  i = jnp.arange(num_bins, dtype=dtype)
  lo = jnp.clip(jnp.floor(i * bin_size).astype(jnp.int32) + start[:, None], 0, size)
  hi = jnp.clip(jnp.ceil((i + 1) * bin_size).astype(jnp.int32) + start[:, None], 0, size)
  return lo, hi


@functools.partial(jax.jit, static_argnames=("output_sizes",))
def _roi_pool_masked(features, cells, batch_indices, *, output_sizes):
  """`_roi_pool` (spatial scale 1) by masked maxima over each roi's own map: rows of a bin
  column first, then columns. Its cost grows with the rois, not with the maps, so it
  wins where each map holds one or a few rois (SPP-net's fine-tuning batches); ties
  share the gradient instead of giving it to the first maximum."""
  _, height, width, _ = features.shape
  corners = _round_half_away(cells).astype(jnp.int32)
  maps = features[batch_indices]                              # [K, H, W, C]
  lowest = jnp.array(-jnp.inf, features.dtype)
  outputs = []
  for out_h, out_w in output_sizes:
    y_lo, y_hi = _bin_edges(corners[:, 1], corners[:, 3], out_h, height, cells.dtype)
    x_lo, x_hi = _bin_edges(corners[:, 0], corners[:, 2], out_w, width, cells.dtype)
    in_x = (jnp.arange(width) >= x_lo[..., None]) & (jnp.arange(width) < x_hi[..., None])
    in_y = (jnp.arange(height) >= y_lo[..., None]) & (jnp.arange(height) < y_hi[..., None])
    columns = jnp.max(jnp.where(in_x[:, None, :, :, None], maps[:, :, None], lowest),
                      axis=3)                                 # [K, H, out_w, C]
    pooled = jnp.max(jnp.where(in_y[:, :, :, None, None], columns[:, None], lowest),
                     axis=2)                                  # [K, out_h, out_w, C]
    empty = ((y_hi <= y_lo)[:, :, None] | (x_hi <= x_lo)[:, None, :])[..., None]
    outputs.append(jnp.where(empty, jnp.zeros((), features.dtype), pooled))
  return outputs


def _gather_channels(features, positions):
  """features[b, h, w, c] at flat spatial positions (b * H + h) * W + w, per channel."""
  channels = features.shape[-1]
  flat = positions * channels + jnp.arange(channels, dtype=positions.dtype)
  return features.reshape(-1)[flat]


def _sparse_table(features, with_positions=True, levels=None):
  """Maxima and first row-major argmaxima of `features` over all 2^i x 2^j windows
  (i, j below `levels` = (levels_h, levels_w), default: every window the map holds).

  Returns:
    values [levels_h, levels_w, batch, height, width, channels] (window starting at
    (h, w); cells past the map count as -inf), and int32 positions of the same shape,
    flat spatial indices (b * height + h) * width + w; the values alone without
    `with_positions`.
  """
  batch, height, width, _ = features.shape
  levels_h, levels_w = levels or (height.bit_length(), width.bit_length())
  if not with_positions:
    return _doubling(_doubling(features, None, levels_w), None, levels_h)
  flat = jnp.arange(batch * height * width, dtype=jnp.int32).reshape(batch, height, width, 1)
  positions = jnp.broadcast_to(flat, features.shape)
  # Axis 2 is the width of [B, H, W, C], then the height of [levels_w, B, H, W, C].
  values, positions = _doubling(features, positions, levels_w)
  return _doubling(values, positions, levels_h)


def _doubling(values, positions, levels):
  """Stacks levels 0..levels-1 of windows doubling along axis 2: [levels, *values.shape]
  (values and positions, or values alone when `positions` is None).

  Level j + 1 combines each level-j window with the one 2^j cells further; cells past the
  map are -inf. Unrolled with static shifts (a dozen levels at most): XLA fuses each
  level into one pass, a third faster than a scan of dynamic slices.
  """
  low = jnp.asarray(-jnp.inf, values.dtype)
  beyond = jnp.asarray(jnp.iinfo(jnp.int32).max, jnp.int32)

  def further(x, shift, fill):
    """x moved `shift` cells back along axis 2, `fill` past the map."""
    config = [(0, 0, 0)] * x.ndim
    config[2] = (0, shift, 0)
    return jax.lax.pad(jax.lax.slice_in_dim(x, shift, x.shape[2], axis=2), fill, config)

  out_v, out_p = [values], [positions]
  for j in range(levels - 1):
    v, other_v = out_v[-1], further(out_v[-1], 1 << j, low)
    out_v.append(jnp.maximum(v, other_v))
    if positions is not None:
      p, other_p = out_p[-1], further(out_p[-1], 1 << j, beyond)
      take = (other_v > v) | ((other_v == v) & (other_p < p))
      out_p.append(jnp.where(take, other_p, p))
  if positions is None:
    return jnp.stack(out_v)
  return jnp.stack(out_v), jnp.stack(out_p)


def roi_align(features: jax.Array, rois: jax.Array, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False,
              batch_indices: jax.Array | None = None,
              max_sampling_ratio: int | None = None) -> jax.Array:
  """Mask R-CNN's RoI Align, as torchvision's `roi_align` (bilinear, no rounding).

  Each bin averages a grid of bilinear samples. Samples more than one cell outside the map
  count as 0; those within clamp to the border. `aligned=False` (the original) forces
  rois to at least 1 x 1 cells; `aligned=True` shifts them by -0.5 cell so that pixel
  centers line up (Detectron2's correction).

  Bilinear sampling on a product grid is separable, so each roi is two matrix products
  with its interpolation weights along y and x (MXU/tensor-core friendly, and so is the
  gradient); the cost grows with the map size times the batch size, not with the samples.

  Args:
    features: [batch, height, width, channels].
    rois: [K, 4] xyxy in image coordinates, or [K, 5] with the batch index first.
    output_size: int or (out_height, out_width).
    spatial_scale: feature cells per image pixel.
    sampling_ratio: samples per bin along each axis; <= 0 means adaptive,
      ceil(roi size / output size) per roi, as torchvision.
    aligned: the half-cell shift above.
    batch_indices: int [K], the image of each roi (needed when batch > 1).
    max_sampling_ratio: for adaptive sampling under jit, a static bound on the grid
      (larger adaptive grids are capped at it). Outside jit it defaults to the largest
      grid the rois need, which reproduces torchvision exactly.

  Returns:
    [K, out_height, out_width, channels].
  """
  rois, batch_indices = _regions(features, rois, batch_indices)
  output_size = to_pair(output_size, "output_size")
  if sampling_ratio > 0:
    max_grid = sampling_ratio
  else:
    max_grid = _max_grid(rois, spatial_scale, aligned, output_size, max_sampling_ratio)
  return _roi_align(features, rois, batch_indices, spatial_scale, output_size=output_size,
                    sampling_ratio=sampling_ratio, aligned=aligned, max_grid=max_grid)


def _roi_sizes(rois, spatial_scale, aligned):
  """Each roi's scaled (x1, y1) and (width, height) in cells, as torchvision sets them."""
  scaled = rois * jnp.asarray(spatial_scale, rois.dtype) - (0.5 if aligned else 0.0)
  sizes = scaled[:, 2:] - scaled[:, :2]
  return scaled[:, :2], sizes if aligned else jnp.maximum(sizes, 1.0)


def _adaptive_grids(sizes, output_size):
  """torchvision's adaptive sampling grid, ceil(roi size / output size) per axis."""
  out_h, out_w = output_size
  return jnp.ceil(_divide(sizes, jnp.asarray([out_w, out_h]))).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("output_size", "sampling_ratio", "aligned",
                                             "max_grid"))
def _roi_align(features, rois, batch_indices, spatial_scale, *, output_size, sampling_ratio,
               aligned, max_grid):
  out_h, out_w = output_size
  batch, height, width, channels = features.shape
  starts, sizes = _roi_sizes(rois, spatial_scale, aligned)
  if sampling_ratio > 0:
    grids = jnp.full(sizes.shape, sampling_ratio, jnp.int32)
  else:
    grids = jnp.minimum(_adaptive_grids(sizes, output_size), max_grid)

  def axis_weights(start, size, grid, num_bins, length):
    """[num_bins, length]: the summed bilinear weight of each cell in each bin's samples."""
    bin_size = _divide(size, num_bins)
    i = jnp.arange(num_bins, dtype=size.dtype)[:, None]
    s = jnp.arange(max_grid, dtype=size.dtype)[None, :]
    coord = start + i * bin_size + _divide((s + 0.5) * bin_size, jnp.maximum(grid, 1))
    used = (s < grid) & (coord >= -1.0) & (coord <= length)
    coord = jnp.maximum(coord, 0.0)
    low = jnp.floor(coord).astype(jnp.int32)
    at_end = low >= length - 1
    low = jnp.where(at_end, length - 1, low)
    high = jnp.where(at_end, length - 1, low + 1)
    frac = jnp.where(at_end, 0.0, coord - low)
    cells = jnp.arange(length)
    weights = ((1.0 - frac)[..., None] * (cells == low[..., None])
               + frac[..., None] * (cells == high[..., None]))
    return jnp.sum(weights * used[..., None], axis=1)

  def weights_one(start, size, grid, image):
    count = jnp.maximum(grid[0] * grid[1], 1).astype(rois.dtype)
    wy = axis_weights(start[1], size[1], grid[1], out_h, height) / count
    wx = axis_weights(start[0], size[0], grid[0], out_w, width)
    # Rows of the other images get weight 0: the batch folds into the row axis.
    wy = (jnp.arange(batch) == image)[None, :, None] * wy[:, None, :]
    return wy.reshape(out_h, batch * height), wx

  wy, wx = jax.vmap(weights_one)(starts, sizes, grids, batch_indices)
  return jnp.einsum("kpr,rwc,kqw->kpqc", wy.astype(features.dtype),
                    features.reshape(batch * height, width, channels),
                    wx.astype(features.dtype))


def _max_grid(rois, spatial_scale, aligned, output_size, max_sampling_ratio) -> int:
  """The static bound on adaptive sampling grids: given, or read from concrete rois."""
  if max_sampling_ratio is not None:
    if not isinstance(max_sampling_ratio, int) or max_sampling_ratio < 1:
      raise ValueError(f"max_sampling_ratio must be a positive int, got "
                       f"{max_sampling_ratio!r}")
    return max_sampling_ratio
  if isinstance(rois, jax.core.Tracer) or isinstance(spatial_scale, jax.core.Tracer):
    raise ValueError("adaptive roi_align (sampling_ratio <= 0) under jit needs a static "
                     "max_sampling_ratio, or a fixed sampling_ratio > 0")
  grids = _adaptive_grids(_roi_sizes(rois, spatial_scale, aligned)[1], output_size)
  return max(int(np.max(np.asarray(grids), initial=1)), 1)


def spatial_pyramid_pool(x: jax.Array, levels: Sequence[int] = (4, 2, 1)) -> jax.Array:
  """SPP-net's pyramid max pooling: a fixed-length vector from any spatial size.

  Level n pools an a x a map into n x n bins with window ceil(a / n) and stride
  floor(a / n) (He et al. 2014, Sec. 2.3; per axis for a x b maps). Where that stride
  fits more than n windows (a = 7, n = 4 fits 6), the first n are kept; they always end
  inside the map. The map must be at least n cells on each side.

  Args:
    x: [batch, height, width, channels].
    levels: bins per side of each level; (4, 2, 1) gives 16 + 4 + 1 bins.

  Returns:
    [batch, sum(n * n) * channels]: each level flattened in (bin row, bin column,
    channel) order (NHWC; Caffe's NCHW flattening is channel-major), levels in order.
  """
  check_nhwc(x)
  _, height, width, _ = x.shape
  for n in levels:
    if not isinstance(n, (int, np.integer)) or n < 1 or height < n or width < n:
      raise ValueError(f"pyramid level {n!r} needs a positive int no larger than the map "
                       f"({height} x {width})")
  return _spatial_pyramid_pool(x, levels=tuple(int(n) for n in levels))


@functools.partial(jax.jit, static_argnames=("levels",))
def _spatial_pyramid_pool(x, *, levels):
  _, height, width, channels = x.shape
  outputs = []
  for n in levels:
    window = (math.ceil(height / n), math.ceil(width / n))
    stride = (height // n, width // n)
    pooled = max_pool(x, window, stride)[:, :n, :n, :]
    outputs.append(pooled.reshape(x.shape[0], n * n * channels))
  return jnp.concatenate(outputs, axis=1)


def spp_project_boxes(boxes: jax.Array, stride: float,
                      offset: float | None = None) -> jax.Array:
  """SPP-net's mapping of image windows onto feature-map cells (He et al. 2014, App. A).

  Left/top edges map to floor(x / S) + 1 and right/bottom edges to ceil(x / S) - 1, the
  cells whose receptive-field centers fall inside the window (SPP-net's padding of
  floor(p / 2) per layer). A window smaller than about 2S maps to an inverted range;
  `roi_pool` and `roi_spatial_pyramid_pool` read it as the single cell at its left/top.

  With `offset`, the same rule for a network of any padding: cell i's centre is at
  offset + i * S (the `start` and `jump` of `jcnn.analysis.receptive_field`; LeNet-5's
  unpadded convolutions put S4's first centre at 7.5 px), a window maps to exactly the
  cells whose centres it holds, and to the cell nearest its centre when it holds none.

  Args:
    boxes: [..., 4] xyxy image coordinates (pixel k covers [k, k + 1)).
    stride: the feature map's total stride S (16 for ZF-5's conv5).
    offset: the centre of the first cell in image coordinates, or None for the paper's
      padding.

  Returns:
    int32 [..., 4] inclusive cell coordinates (x1', y1', x2', y2').
  """
  boxes = jnp.asarray(boxes, jnp.float32)
  if boxes.shape[-1] != 4 or stride < 1:
    raise ValueError(f"need boxes [..., 4] and stride >= 1, got {boxes.shape}, {stride!r}")
  if offset is None:
    return _spp_project(boxes, stride)
  return _centre_project(boxes, float(stride), float(offset))


@jax.jit
def _spp_project(boxes, stride):
  low = jnp.floor(_divide(boxes[..., :2], stride)) + 1
  high = jnp.ceil(_divide(boxes[..., 2:], stride)) - 1
  return jnp.concatenate([low, high], axis=-1).astype(jnp.int32)


@jax.jit
def _centre_project(boxes, stride, offset):
  low = jnp.ceil(_divide(boxes[..., :2] - offset, stride))
  high = jnp.floor(_divide(boxes[..., 2:] - offset, stride))
  centre = jnp.floor(_divide((boxes[..., :2] + boxes[..., 2:]) / 2 - offset, stride) + 0.5)
  empty = high < low
  low, high = jnp.where(empty, centre, low), jnp.where(empty, centre, high)
  return jnp.concatenate([low, high], axis=-1).astype(jnp.int32)


def roi_spatial_pyramid_pool(features: jax.Array, boxes: jax.Array, stride: float,
                             levels: Sequence[int] = (6, 3, 2, 1),
                             batch_indices: jax.Array | None = None,
                             offset: float | None = None,
                             first_maximum: bool = True) -> jax.Array:
  """SPP-net for detection: a pyramid of RoI max pools over each window's projection.

  Windows are projected with `spp_project_boxes`, then each level pools the projected
  cells into n x n bins (Fast R-CNN's RoI pooling is this with one level).

  Args:
    features: [batch, height, width, channels], e.g. conv5 of the whole image.
    boxes: [K, 4] xyxy image windows (proposals), or [K, 5] with the batch index first.
    stride: the feature map's total stride.
    levels: bins per side; SPP-net's detector uses {6, 3, 2, 1} (50 bins).
    batch_indices: int [K], the image of each window (needed when batch > 1).
    offset: the centre of the first cell (`spp_project_boxes`), or None.
    first_maximum: a bin's gradient goes to its first maximum (`roi_pool`'s rule);
      False pools from values alone, about twice as fast, ties sharing the gradient
      (for features that take no gradient, e.g. SPP-net's frozen conv layers).

  Returns:
    [K, sum(n * n) * channels], flattened as `spatial_pyramid_pool`.
  """
  boxes, batch_indices = _regions(features, boxes, batch_indices)
  cells = spp_project_boxes(boxes, stride, offset).astype(boxes.dtype)
  sizes = tuple(to_pair(n, "pyramid level") for n in levels)
  batch, height, width, _ = features.shape
  # The sparse table costs ~(log2 H + 1)(log2 W + 1) maps per image, the masked maxima
  # ~sum(n) maps per window: the cheaper one answers (the values are the same).
  per_window = sum(w for _, w in sizes)
  if cells.shape[0] * per_window < batch * height.bit_length() * width.bit_length():
    outputs = _roi_pool_masked(features, cells, batch_indices, output_sizes=sizes)
  else:
    outputs = _roi_pool(features, cells, batch_indices, 1.0, output_sizes=sizes,
                        first_maximum=first_maximum)
  return jnp.concatenate([o.reshape(cells.shape[0], -1) for o in outputs], axis=1)
