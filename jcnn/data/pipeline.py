"""`batches`: a split as a reproducible stream of fixed-shape numpy batches.

Order and augmentation come from (seed, epoch[, batch index]) (`jcnn.data.order`), so a
run resumed at `start_batch=k` sees exactly the batches an uninterrupted run would have
seen.
"""
from collections.abc import Iterator, Sequence

import numpy as np

from jcnn.data import order as order_lib
from jcnn.data.augment import random_crop
from jcnn.data.augment import random_flip
from jcnn.data.split import Split


def batches(split: Split, batch_size: int, *, train: bool, seed: int = 0, epoch: int = 0,
            start_batch: int = 0, crop_padding: int = 0, flip: bool = False,
            mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
            rows: slice = slice(None)) -> Iterator[dict[str, np.ndarray]]:
  """Yields one epoch of batches, from batch `start_batch` on.

  train=True: a fresh permutation per (seed, epoch), the last partial batch dropped, and
  pad-and-random-crop / horizontal flip drawn per (seed, epoch, batch index).
  train=False: the split's order, no augmentation; the last batch is padded with repeated
  examples carrying mask 0, so that every batch has one shape (one compile).

  Args:
    split: the examples.
    batch_size: B.
    train: training (shuffled, augmented) or evaluation (ordered, complete) batches.
    seed: selects the shuffles and augmentations of all epochs; >= 0.
    epoch: selects this epoch's shuffle and augmentation; >= 0.
    start_batch: the first batch to yield, to resume mid-epoch.
    crop_padding: pad-and-crop amplitude in pixels; 0 disables; train only.
    flip: random horizontal flips; train only.
    mean, std: per-channel (or scalar) statistics of pixels in [0, 1]; None gives x / 255.
    rows: the rows of every batch to load (`jcnn.parallel.local_rows`: this process's
      share); the others are never read. Default all.

  Yields:
    {"image": [b, H, W, C] float32, "label": [b] int32, "mask": [b] float32}: rows
    `rows` of the batch of B.
  """
  n = len(split)
  num_batches = order_lib.batches_per_epoch(n, batch_size, train)
  if crop_padding < 0:
    raise ValueError(f"crop_padding must be >= 0, got {crop_padding}")
  if not train and (crop_padding or flip):
    raise ValueError(f"augmentation is for training only, got train=False with "
                     f"crop_padding={crop_padding}, flip={flip}")
  order_lib.check_position(seed, epoch, start_batch, num_batches)
  normalise = normaliser(split.images.shape[1:], mean, std)
  order = order_lib.epoch_order(n, seed, epoch, shuffle=train)
  for b in range(start_batch, num_batches):
    index = order_lib.positions(b, batch_size, rows)
    mask = (index < n).astype(np.float32)
    index = order[index % n]
    images = split.images[index]
    if train:
      rng = order_lib.batch_rng(seed, epoch, b)
      images = random_crop(images, crop_padding, rng, batch_size=batch_size, rows=rows)
      if flip:
        images = random_flip(images, rng, batch_size=batch_size, rows=rows)
    yield {"image": normalise(images), "label": split.labels[index], "mask": mask}


def normaliser(image_shape: tuple[int, int, int], mean, std):
  """(x / 255 - mean) / std in float32 for images [B, H, W, C], with mean/std checked."""
  if (mean is None) != (std is None):
    raise ValueError(f"give both mean and std or neither, got mean={mean}, std={std}")
  h, w, c = image_shape
  mean = np.zeros(c, np.float32) if mean is None else np.asarray(mean, np.float32).ravel()
  std = np.ones(c, np.float32) if std is None else np.asarray(std, np.float32).ravel()
  for what, value in (("mean", mean), ("std", std)):
    if value.size not in (1, c):
      raise ValueError(f"{what} has {value.size} values for {c} channels: {value}")
  if np.any(std <= 0):
    raise ValueError(f"std must be > 0, got {std}")
  # Statistics tiled along flat rows [H * W * C]: broadcasting over a last axis of 1-3
  # channels would run numpy's inner loop 3 elements at a time, ~6x slower.
  row_mean = np.tile(np.broadcast_to(mean, c), h * w)
  row_std = np.tile(np.broadcast_to(std, c), h * w)

  def normalise(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32, order="C").reshape(len(images), -1)
    x /= np.float32(255)
    x -= row_mean
    x /= row_std
    return x.reshape(images.shape)

  return normalise
