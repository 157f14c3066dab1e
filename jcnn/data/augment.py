"""Random augmentation of a whole batch at once, vectorised in numpy.

The draws are those of a whole batch, made before any image is touched, so a process
that loads only some rows of it (`rows`) augments them exactly as a single process
loading the whole batch would.
"""
import numpy as np


def random_crop(images: np.ndarray, padding: int, rng: np.random.Generator, *,
                batch_size: int | None = None, rows: slice = slice(None)) -> np.ndarray:
  """Zero-pads by `padding`, then crops each image back to H x W at a random offset.

  Args:
    images: [b, H, W, C]: rows `rows` of a batch of `batch_size` (default: all b).
    padding: pixels added on every side; 0 returns `images` unchanged (no draws).
    rng: draws the whole batch's offsets, [batch_size] rows and [batch_size] columns
      in [0, 2 padding].

  Returns:
    [b, H, W, C], same dtype (a strided view of a new array).
  """
  if padding < 0:
    raise ValueError(f"crop padding must be >= 0, got {padding}")
  if not padding:
    return images
  b, h, w, _ = images.shape
  dy, dx = rng.integers(0, 2 * padding + 1, size=(2, batch_size or b))[:, rows]
  padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  # Gathering whole windows is ~10x faster than gathering pixels with index grids, whose
  # innermost axis would be the 1-3 channels.
  windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(1, 2))
  return np.moveaxis(windows[np.arange(b), dy, dx], 1, -1)  # [B, C, H, W] -> [B, H, W, C]


def random_flip(images: np.ndarray, rng: np.random.Generator, *,
                batch_size: int | None = None, rows: slice = slice(None)) -> np.ndarray:
  """Mirrors each image left-right with probability 1/2.

  Args:
    images: [b, H, W, C]: rows `rows` of a batch of `batch_size` (default: all b).
    rng: draws the whole batch's [batch_size] coin flips.

  Returns:
    [b, H, W, C], a new array.
  """
  flip = (rng.random(batch_size or len(images)) < 0.5)[rows]
  out = images.copy()
  out[flip] = images[flip, :, ::-1]
  return out
