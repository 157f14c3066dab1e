"""The SVMs' and regressors' features (stages 4 to 6): a fine-tuned network run over
windows of whole images, in calls of a few padded sizes, the images of a group stacked."""
from typing import Callable

import jax
import numpy as np
import tqdm

from jcnn.data.pipeline import normaliser
from jcnn.detection import data as det_data
from jcnn.detection import rcnn_detector


def largest_shape(split: det_data.DetectionSplit, ids=None) -> list[int]:
  """[H, W, C]: the tallest and the widest of the split's images `ids` (all by default)."""
  records = split.records if ids is None else [split.records[i] for i in ids]
  return [max(int(r["height"]) for r in records), max(int(r["width"]) for r in records),
          int(split.channels)]


def stack_images(split: det_data.DetectionSplit, mean, ids=None) -> np.ndarray:
  """The split's images `ids` (all by default) as one uint8 array [N, H, W, C]: each at
  the top left of their `largest_shape`, the rest filled with the mean colour (`mean`
  of [0, 1] pixels: 0 once normalised, as R-CNN's crops are padded)."""
  ids = range(len(split)) if ids is None else ids
  fill = np.round(np.asarray(mean) * 255).astype(np.uint8)
  out = np.empty((len(ids), *largest_shape(split, ids)), np.uint8)
  out[:] = fill
  for k, i in enumerate(ids):
    image = split.image(i)
    out[k, :image.shape[0], :image.shape[1]] = image
  return out


def padded_calls(boxes: np.ndarray, index: np.ndarray, size: int):
  """The windows in calls of `size`, the last padded only to the next power of two (at
  least 64): a handful of shapes to compile, and little work on padding where an image
  has few windows. Yields (boxes [S, 4], index [S], windows that are real)."""
  for start in range(0, len(boxes), size):
    n = len(boxes[start:start + size])
    call = min(size, max(64, 1 << (n - 1).bit_length()))
    b = np.tile(np.float32([0, 0, 1, 1]), (call, 1))
    i = np.zeros(call, np.int32)
    b[:n], i[:n] = boxes[start:start + size], index[start:start + size]
    yield b, i, n


class FeatureFn:
  """A fine-tuned network as a feature extractor over windows of whole images.

  Args:
    config: the run's config (`feature_batch_size`: windows per call).
    run: `(variables, images [B, H, W, C] normalised, boxes [K, 4], index [K]) ->
      (features [K, D], regression [K, Dr])` (`RCNN.feature_fn`), jitted here.
    info: the run's dataset info (the normalisation).
  """

  def __init__(self, config, run: Callable, info: dict):
    self._config = config
    self._mean = np.asarray(info["mean"], np.float32)
    self._std = np.asarray(info["std"], np.float32)
    self._run = jax.jit(run)

  def _windows(self, variables, images: np.ndarray, boxes: np.ndarray, index: np.ndarray):
    """Features of windows `boxes` [K, 4] of `images[index]`, in calls of few sizes."""
    stack = normaliser(images.shape[1:], self._mean, self._std)(np.asarray(images))
    outs = [[np.asarray(x)[:n] for x in self._run(variables, stack, b, i)]
            for b, i, n in padded_calls(boxes, index, self._config.feature_batch_size)]
    if not outs:
      return (np.zeros((0, 0), np.float32),) * 2
    return tuple(np.concatenate(parts) for parts in zip(*outs))

  def of_image(self, variables, image: np.ndarray,
               boxes: np.ndarray) -> rcnn_detector.RegionFeatures:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    features, regression = self._windows(variables, image[None], boxes,
                                         np.zeros(len(boxes), np.int32))
    return rcnn_detector.RegionFeatures(boxes, features, regression)

  def of_split(self, variables, split: det_data.DetectionSplit, cache, *,
               with_ground_truth: bool,
               group: int = 16) -> list[rcnn_detector.RegionFeatures]:
    """Every image's windows (its ground truth first when `with_ground_truth`, then its
    proposals) and their features, `group` images per CNN pass."""
    out = []
    with tqdm.tqdm(total=len(split), unit="image", desc="features", leave=False,
                   disable=None, dynamic_ncols=True) as bar:
      for first in range(0, len(split), group):
        ids = range(first, min(first + group, len(split)))
        boxes = [np.concatenate(
            ([np.asarray(split.records[i]["boxes"], np.float32).reshape(-1, 4)]
             if with_ground_truth else []) + [np.asarray(cache[i], np.float32)])
            for i in ids]
        index = np.concatenate([np.full(len(b), k, np.int32) for k, b in enumerate(boxes)])
        images = stack_images(split, self._mean, ids)  # photos differ in size
        features, regression = self._windows(variables, images, np.concatenate(boxes),
                                             index)
        offsets = np.cumsum([0] + [len(b) for b in boxes])
        out.extend(rcnn_detector.RegionFeatures(b, features[a:z], regression[a:z])
                   for b, a, z in zip(boxes, offsets[:-1], offsets[1:]))
        bar.update(len(ids))
    return out
