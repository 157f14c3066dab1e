"""Random augmentation of a whole batch at once, vectorised in numpy."""
import numpy as np


def random_crop(images: np.ndarray, padding: int, rng: np.random.Generator) -> np.ndarray:
  """Zero-pads by `padding`, then crops each image back to H x W at a random offset.

  Args:
    images: [B, H, W, C].
    padding: pixels added on every side; 0 returns `images` unchanged.
    rng: draws the offsets, [B] rows and [B] columns in [0, 2 padding].

  Returns:
    [B, H, W, C], same dtype (a strided view of a new array).
  """
  if padding < 0:
    raise ValueError(f"crop padding must be >= 0, got {padding}")
  if not padding:
    return images
  b, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  dy, dx = rng.integers(0, 2 * padding + 1, size=(2, b))
  # Gathering whole windows is ~10x faster than gathering pixels with index grids, whose
  # innermost axis would be the 1-3 channels.
  windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(1, 2))
  return np.moveaxis(windows[np.arange(b), dy, dx], 1, -1)  # [B, C, H, W] -> [B, H, W, C]


def random_flip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Mirrors each image left-right with probability 1/2.

  Args:
    images: [B, H, W, C].
    rng: draws [B] coin flips.

  Returns:
    [B, H, W, C], a new array.
  """
  flip = rng.random(len(images)) < 0.5
  out = images.copy()
  out[flip] = images[flip, :, ::-1]
  return out
