"""Region proposals: selective search (Uijlings et al. 2013) and exhaustive sliding windows.

Selective search over-segments the image (Felzenszwalb & Huttenlocher's graph method,
`skimage.segmentation.felzenszwalb`) and greedily merges the two most similar neighbouring
regions until one is left; every region ever formed is a proposal. Similarity adds up
to four measures:
  c  colour: intersection of 25-bin-per-channel histograms (L1-normalised);
  t  texture: intersection of SIFT-like histograms, Gaussian derivatives (sigma 1) in 8
     orientations x 10 bins per channel (L1-normalised);
  s  size: 1 - (size_i + size_j) / size_image, merging small regions first;
  f  fill: 1 - (size of the joint box - size_i - size_j) / size_image, merging regions
     that fill each other's gaps.
Merged histograms are size-weighted means, so nothing is recomputed from pixels. The search
is diversified over colour spaces, segmentation thresholds k and similarity combinations;
the paper's "fast" and "quality" settings are in `STRATEGIES`. Boxes of all hierarchies are
ranked pseudo-randomly as in the paper (a region's rank is its position in its hierarchy,
1 for the last merge, times a uniform random number) and de-duplicated.
"""
import heapq
import os
from collections.abc import Sequence
from concurrent import futures

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import color, segmentation, util

from jcnn.padding import to_pair

# Colour spaces (Uijlings et al. 2013, Table 1) and the settings of Sec. 5.5. As in the
# authors' code (and R-CNN's `selective_search_boxes.m`), sigma = 0.8 and the minimum
# segment size equals k.
STRATEGIES = {
    "single": dict(colour_spaces=("hsv",), ks=(100,), similarities=("ctsf",)),
    "fast": dict(colour_spaces=("hsv", "lab"), ks=(50, 100), similarities=("ctsf", "tsf")),
    "quality": dict(colour_spaces=("hsv", "lab", "rgi", "h", "i"), ks=(50, 100, 150, 300),
                    similarities=("ctsf", "tsf", "f", "s")),
}
COLOUR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")
_COLOUR_BINS = 25
_TEXTURE_BINS = 10


def selective_search(image: np.ndarray, strategy: str = "fast", *,
                     colour_spaces: Sequence[str] | None = None,
                     ks: Sequence[int] | None = None,
                     similarities: Sequence[str] | None = None, sigma: float = 0.8,
                     max_side: int | None = 500, min_box_size: int = 20,
                     seed: int = 0) -> np.ndarray:
  """Selective search's ranked object proposals for one image.

  Args:
    image: [height, width, 3] RGB (uint8, or float in [0, 1]), or [height, width] grey.
    strategy: "fast" (HSV and Lab, k in {50, 100}, similarities ctsf and tsf: 8
      groupings) or "quality" (HSV, Lab, rgI, H and I, k in {50, 100, 150, 300},
      similarities ctsf, tsf, f and s: 80 groupings), or "single" (one grouping: HSV,
      k = 100, ctsf; a quick look, not one of the paper's settings).
    colour_spaces: overrides the strategy's; from "rgb", "hsv", "lab", "rgi" (normalised
      r, g and intensity), "h" (hue) and "i" (intensity).
    ks: overrides the strategy's Felzenszwalb thresholds.
    similarities: overrides the strategy's; each a combination of the letters c, t, s, f.
    sigma: Felzenszwalb's Gaussian smoothing.
    max_side: larger images are downscaled to this longest side first, since k is tuned
      for PASCAL VOC images (at most 500 pixels a side); boxes are scaled back.
      None keeps the full resolution.
    min_box_size: boxes narrower or shorter than this (in pixels of the working
      resolution) are dropped, as R-CNN's `selective_search_boxes.m` (20).
    seed: seeds the pseudo-random ranking.

  Returns:
    float32 [N, 4] xyxy boxes in the input image's pixel coordinates (a region covering
    pixel columns x1..x2 is [x1, x2 + 1)), best ranked first, no duplicates.
  """
  settings = dict(STRATEGIES[_check_choice(strategy, STRATEGIES, "strategy")])
  for name, value in (("colour_spaces", colour_spaces), ("ks", ks),
                      ("similarities", similarities)):
    if value is not None:
      settings[name] = tuple(value)
  for space in settings["colour_spaces"]:
    _check_choice(space, COLOUR_SPACES, "colour space")
  for combo in settings["similarities"]:
    if not combo or set(combo) - set("ctsf"):
      raise ValueError(f"a similarity is a combination of the letters c, t, s, f, got "
                       f"{combo!r}")
  rgb, scales = _working_image(image, max_side)
  images = {space: _convert(rgb, space) for space in settings["colour_spaces"]}
  tasks = [(space, k) for space in settings["colour_spaces"] for k in settings["ks"]]
  # The segmentations dominate the time and run outside the GIL (scipy, numpy sorts,
  # skimage's nogil merge loop): threads overlap them.
  with futures.ThreadPoolExecutor(min(len(tasks), os.cpu_count() or 1)) as pool:
    labels = list(pool.map(lambda task: _segment(images[task[0]], task[1], sigma), tasks))
  boxes, ranks = [], []
  bins = {}
  for (space, _), segmentation_labels in zip(tasks, labels):
    # Per-pixel histogram bins depend on the colour space only, not on k.
    if space not in bins:
      bins[space] = _colour_bins(images[space]), _texture_bins(images[space])
    regions = _Regions(segmentation_labels, *bins[space])
    for combo in settings["similarities"]:
      hierarchy = regions.group(combo)
      boxes.append(hierarchy)
      ranks.append(np.arange(len(hierarchy), 0, -1))
  return _rank(np.concatenate(boxes), np.concatenate(ranks), min_box_size, scales, seed)


def _check_choice(value, choices, what):
  if value not in choices:
    raise ValueError(f"{what} must be one of {tuple(choices)}, got {value!r}")
  return value


def _working_image(image, max_side):
  """float RGB in [0, 1] at the working resolution, and the (x, y) scales back."""
  image = np.asarray(image)
  if image.ndim == 2:
    image = np.stack([image] * 3, axis=-1)
  if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
    raise ValueError(f"image must be [height, width, 3] RGB or [height, width] grey, at "
                     f"least 2 x 2, got {image.shape}")
  pixels = util.img_as_ubyte(image)
  height, width = pixels.shape[:2]
  if max_side is not None and max(height, width) > max_side:
    factor = max_side / max(height, width)
    size = (max(round(width * factor), 2), max(round(height * factor), 2))
    # Pillow's resampling low-pass filters when shrinking, 20x faster than scikit-image's.
    pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
  rgb = pixels.astype(np.float32) / 255.0
  return rgb, (width / rgb.shape[1], height / rgb.shape[0])


def _convert(rgb, space):
  """The image in a colour space, every channel scaled to [0, 1]: [height, width, C]."""
  if space == "rgb":
    return rgb
  if space in ("hsv", "h"):
    hsv = color.rgb2hsv(rgb)
    return hsv if space == "hsv" else hsv[..., :1]
  intensity = color.rgb2gray(rgb)[..., None]
  if space == "i":
    return intensity.astype(np.float32)
  if space == "lab":
    lab = color.rgb2lab(rgb)
    return ((lab + [0.0, 128.0, 128.0]) / [100.0, 255.0, 255.0]).clip(0, 1).astype(np.float32)
  total = rgb.sum(axis=-1, keepdims=True)
  rg = np.where(total > 0, rgb[..., :2] / np.maximum(total, 1e-12), 1.0 / 3)
  return np.concatenate([rg, intensity], axis=-1).astype(np.float32)


def _segment(image, k, sigma):
  """Felzenszwalb's segmentation with min_size = k: int labels 0..n-1 [height, width]."""
  if image.shape[2] == 1:
    return segmentation.felzenszwalb(image[..., 0], scale=k, sigma=sigma, min_size=k,
                                     channel_axis=None)
  return segmentation.felzenszwalb(image, scale=k, sigma=sigma, min_size=k)


class _Regions:
  """One segmentation's initial regions: sizes, boxes, histograms and neighbours."""

  def __init__(self, labels, colour_bins, texture_bins):
    self.count = int(labels.max()) + 1
    self.image_size = labels.size
    flat = labels.ravel()
    self.sizes = np.bincount(flat, minlength=self.count).astype(np.float64)
    slices = ndimage.find_objects(labels + 1)
    self.boxes = np.array([[s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1]
                           for s in slices], np.int64)  # inclusive pixel x1, y1, x2, y2
    self.colour = _histograms(flat, self.count, colour_bins, _COLOUR_BINS)
    self.texture = _histograms(flat, self.count, texture_bins, _TEXTURE_BINS)
    self.pairs = _neighbour_pairs(labels, self.count)

  def group(self, combo):
    """Hierarchical grouping with one similarity; every region's box, in creation order."""
    n = self.count
    capacity = 2 * n - 1
    sizes = np.zeros(capacity)
    sizes[:n] = self.sizes
    boxes = np.zeros((capacity, 4), np.int64)
    boxes[:n] = self.boxes
    colour = _grown(self.colour, capacity) if "c" in combo else None
    texture = _grown(self.texture, capacity) if "t" in combo else None

    def similarity(i, j):  # i: int or array, j: array
      s = np.zeros(len(j))
      if colour is not None:
        s += np.minimum(colour[i], colour[j]).sum(axis=-1)
      if texture is not None:
        s += np.minimum(texture[i], texture[j]).sum(axis=-1)
      if "s" in combo:
        s += 1.0 - (sizes[i] + sizes[j]) / self.image_size
      if "f" in combo:
        lo = np.minimum(boxes[i, :2], boxes[j, :2])
        hi = np.maximum(boxes[i, 2:], boxes[j, 2:])
        joint = (hi[..., 0] - lo[..., 0] + 1) * (hi[..., 1] - lo[..., 1] + 1)
        s += 1.0 - (joint - sizes[i] - sizes[j]) / self.image_size
      return s

    first, second = self.pairs[:, 0], self.pairs[:, 1]
    heap = list(zip(-similarity(first, second), first.tolist(), second.tolist()))
    heapq.heapify(heap)
    neighbours = [set() for _ in range(n)]
    for i, j in self.pairs.tolist():
      neighbours[i].add(j)
      neighbours[j].add(i)
    alive = np.zeros(capacity, bool)
    alive[:n] = True
    new = n
    while heap:
      _, i, j = heapq.heappop(heap)
      if not (alive[i] and alive[j]):
        continue
      sizes[new] = sizes[i] + sizes[j]
      boxes[new, :2] = np.minimum(boxes[i, :2], boxes[j, :2])
      boxes[new, 2:] = np.maximum(boxes[i, 2:], boxes[j, 2:])
      for hist in (colour, texture):
        if hist is not None:
          hist[new] = (sizes[i] * hist[i] + sizes[j] * hist[j]) / sizes[new]
      alive[[i, j]] = False
      alive[new] = True
      around = (neighbours[i] | neighbours[j]) - {i, j}
      for k in around:
        neighbours[k] -= {i, j}
        neighbours[k].add(new)
      neighbours.append(around)
      if around:
        others = np.fromiter(around, np.int64, len(around))
        for s, k in zip(similarity(new, others).tolist(), others.tolist()):
          heapq.heappush(heap, (-s, k, new))
      new += 1
    return boxes[:new]


def _grown(histograms, capacity):
  """A copy with room for the merged regions' rows."""
  out = np.zeros((capacity, histograms.shape[1]))
  out[:len(histograms)] = histograms
  return out


def _histograms(labels, count, bins, bins_per_feature):
  """L1-normalised per-region histograms [count, features * bins_per_feature] from
  per-pixel bin indices [pixels, features], already offset per feature."""
  width = bins.shape[1] * bins_per_feature
  index = labels[:, None].astype(np.int64) * width + bins
  counts = np.bincount(index.ravel(), minlength=count * width).reshape(count, width)
  return counts / counts.sum(axis=1, keepdims=True)


def _colour_bins(image):
  """Per pixel and channel, the colour bin, offset per channel: [pixels, C]."""
  channels = image.shape[2]
  bins = np.minimum((image.reshape(-1, channels) * _COLOUR_BINS).astype(np.int64),
                    _COLOUR_BINS - 1)
  return bins + _COLOUR_BINS * np.arange(channels)


def _texture_bins(image):
  """Per pixel, the bin of each of 8 oriented Gaussian derivatives per channel: [pixels, 8C].

  The derivative along angle a is cos(a) dI/dx + sin(a) dI/dy (sigma = 1); the angles
  0, 45, 90 and 135 degrees give 8 orientations as their positive and negative halves.
  Each response is binned over [0, its maximum in the image].
  """
  bins = np.empty((image.shape[0] * image.shape[1], 8 * image.shape[2]), np.int64)
  column = 0
  for c in range(image.shape[2]):
    channel = image[..., c]
    dx = ndimage.gaussian_filter(channel, 1.0, order=(0, 1)).ravel()
    dy = ndimage.gaussian_filter(channel, 1.0, order=(1, 0)).ravel()
    for angle in (0.0, 0.25 * np.pi, 0.5 * np.pi, 0.75 * np.pi):
      d = np.float32(np.cos(angle)) * dx + np.float32(np.sin(angle)) * dy
      for response in (np.maximum(d, 0.0), np.maximum(-d, 0.0)):
        top = response.max()
        if top > 0:
          response *= _TEXTURE_BINS / top
        bins[:, column] = np.minimum(response, _TEXTURE_BINS - 1) + _TEXTURE_BINS * column
        column += 1
  return bins


def _neighbour_pairs(labels, count):
  """Unique pairs (i < j) of regions that touch in the 8-neighbourhood: [P, 2]."""
  pairs = []
  for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :]),
               (labels[:-1, :-1], labels[1:, 1:]), (labels[:-1, 1:], labels[1:, :-1])):
    differ = a != b
    lo = np.minimum(a[differ], b[differ]).astype(np.int64)
    hi = np.maximum(a[differ], b[differ]).astype(np.int64)
    pairs.append(lo * count + hi)
  codes = np.unique(np.concatenate(pairs))
  return np.stack([codes // count, codes % count], axis=1)


def _rank(boxes, ranks, min_box_size, scales, seed):
  """The paper's pseudo-random ranking, then size filtering and de-duplication."""
  rng = np.random.default_rng(seed)
  order = np.argsort(ranks * rng.random(len(ranks)), kind="stable")
  boxes = boxes[order]
  sides = boxes[:, 2:] - boxes[:, :2] + 1
  boxes = boxes[np.all(sides >= min_box_size, axis=1)]
  _, first = np.unique(boxes, axis=0, return_index=True)
  boxes = boxes[np.sort(first)]
  return ((boxes + [0, 0, 1, 1]) * np.tile(scales, 2)).astype(np.float32)


def sliding_windows(image_size: tuple[int, int], window_sizes: Sequence,
                    stride: int | tuple[int, int]) -> np.ndarray:
  """Every window of each size that fits in the image: the exhaustive-search baseline.

  Args:
    image_size: (height, width).
    window_sizes: sizes as ints (squares) or (height, width) pairs.
    stride: pixels between neighbouring windows, an int or (stride_y, stride_x).

  Returns:
    float32 [N, 4] xyxy, by window size, then row by row; sizes larger than the image give
    no window.
  """
  height, width = image_size
  step_y, step_x = to_pair(stride, "stride")
  windows = []
  for size in window_sizes:
    h, w = to_pair(size, "window size")
    ys = np.arange(0, height - h + 1, step_y)
    xs = np.arange(0, width - w + 1, step_x)
    y, x = np.meshgrid(ys, xs, indexing="ij")
    windows.append(np.stack([x, y, x + w, y + h], axis=-1).reshape(-1, 4))
  if not windows:
    return np.zeros((0, 4), np.float32)
  return np.concatenate(windows).astype(np.float32)
