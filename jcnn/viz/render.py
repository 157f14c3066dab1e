"""Arrays to pictures: images back to pixels, projections and filters to grey-centred
tiles, tiles to grids, grids to PNG files."""
import pathlib

import numpy as np
from PIL import Image


def to_pixels(x: np.ndarray, mean, std) -> np.ndarray:
  """Normalised images [..., C] back to uint8 pixels: (x · std + mean) · 255."""
  x = np.asarray(x, np.float32) * np.asarray(std, np.float32) + np.asarray(mean, np.float32)
  return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def signed_to_pixels(p: np.ndarray) -> np.ndarray:
  """A signed map [..., C] (projection, gradient, filter) as uint8: 0 is mid-grey and
  the largest magnitude reaches black or white (ZF's contrast normalisation)."""
  p = np.asarray(p, np.float32)
  peak = float(np.max(np.abs(p)))
  scaled = 0.5 + 0.5 * p / peak if peak > 0 else np.full_like(p, 0.5)
  return np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)


def range_to_pixels(m: np.ndarray) -> np.ndarray:
  """A map stretched from its minimum (black) to its maximum (white), as uint8."""
  m = np.asarray(m, np.float32)
  lo, hi = float(m.min()), float(m.max())
  scaled = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
  return np.round(scaled * 255).astype(np.uint8)


def filter_tiles(kernel: np.ndarray) -> np.ndarray:
  """A conv kernel [kh, kw, in, out] as one tile per filter [out, kh, kw, 1 or 3].

  RGB for 3 input channels, grey for 1, the mean over inputs otherwise; each filter
  is shown on its own scale (0 mid-grey).
  """
  kernel = np.asarray(kernel, np.float32)
  if kernel.ndim != 4:
    raise ValueError(f"a conv kernel is [kh, kw, in, out], got shape {kernel.shape}")
  if kernel.shape[2] not in (1, 3):
    kernel = kernel.mean(axis=2, keepdims=True)
  return np.stack([signed_to_pixels(kernel[..., i]) for i in range(kernel.shape[-1])])


def feature_map_tiles(maps: np.ndarray) -> np.ndarray:
  """Feature maps [h, w, K] as K grey tiles [K, h, w, 1], each on its own range."""
  maps = np.asarray(maps)
  return np.stack([range_to_pixels(maps[..., k])[..., None] for k in range(maps.shape[-1])])


def grid(tiles: np.ndarray, cols: int | None = None, gap: int = 1,
         background: int = 255) -> np.ndarray:
  """Tiles [N, h, w, C] (uint8) laid out in rows of `cols`, `gap` pixels apart."""
  tiles = np.asarray(tiles)
  n, h, w, c = tiles.shape
  cols = cols or int(np.ceil(np.sqrt(n)))
  rows = int(np.ceil(n / cols))
  out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), background, np.uint8)
  for i, tile in enumerate(tiles):
    r, k = divmod(i, cols)
    out[r * (h + gap):r * (h + gap) + h, k * (w + gap):k * (w + gap) + w] = tile
  return out


def as_rgb(image: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 1 or 3] as [H, W, 3]."""
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def save_png(path: str | pathlib.Path, image: np.ndarray, scale: int = 1) -> pathlib.Path:
  """Writes uint8 [H, W, 1 or 3] as a PNG, enlarged `scale` times (nearest)."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  image = np.asarray(image, np.uint8)
  picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
  if scale > 1:
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
  picture.save(path)
  return path
