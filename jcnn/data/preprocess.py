"""Whole-split geometry changes done once before training, e.g. to fit LeNet-5's 32x32 input."""
import dataclasses

import numpy as np
from PIL import Image

from jcnn.data.split import Split


def prepare(split: Split, *, resize: int | None = None, pad: int = 0) -> Split:
  """Resizes to `resize`x`resize` (bilinear), then zero-pads `pad` pixels on every side.

  E.g. digits 8x8 -> 32x32 with resize=32; MNIST 28x28 -> 32x32 with pad=2.

  Returns:
    The split with images [N, resize + 2 pad, resize + 2 pad, C] (or H + 2 pad, W + 2 pad).
  """
  if resize is not None and (not isinstance(resize, int) or resize <= 0):
    raise ValueError(f"resize must be a positive int or None, got {resize!r}")
  if not isinstance(pad, int) or pad < 0:
    raise ValueError(f"pad must be an int >= 0, got {pad!r}")
  images = split.images
  if resize is not None and images.shape[1:3] != (resize, resize):
    images = resize_images(images, resize)
  if pad:
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return dataclasses.replace(split, images=images)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
  """Bilinear resize with Pillow, channel by channel so any channel count works.

  Args:
    images: [N, H, W, C] uint8.
    size: the output height and width.

  Returns:
    [N, size, size, C] uint8.
  """
  out = np.empty((images.shape[0], size, size, images.shape[3]), np.uint8)
  for i, image in enumerate(images):
    for c in range(images.shape[3]):
      out[i, :, :, c] = np.asarray(
          Image.fromarray(image[:, :, c]).resize((size, size), Image.Resampling.BILINEAR))
  return out
