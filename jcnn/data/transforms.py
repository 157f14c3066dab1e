"""One photo of any size to a training or evaluation example, with the papers' augmentations.

Per example, in Pillow and numpy, uint8 out. All randomness comes from the
`np.random.Generator` passed in, in the order each docstring states, so a generator made
from (seed, epoch, position) replays an example exactly. numpy's `integers` draws nothing
when its range holds one value (a crop as large as the image); the order is otherwise
fixed.

Training recipes (`train_example(recipe=...)`, a config's field value), at output `size`
(224 in the papers; the resize sides scale with it):

  recipe           paper                                 geometry
  inception_crop   GoogLeNet (Szegedy et al. 2015 §6),   random-resized crop: area 8-100 %,
                   Inception v3; torchvision, timm       aspect 3/4-4/3, to size x size
  alexnet_crop     AlexNet (Krizhevsky et al. 2012 §4.1) shorter side 256, random 224 crop
  vgg_jitter       VGG (Simonyan & Zisserman 2015 §3.1)  shorter side S ~ U{256..512}, random
                                                         224 crop
  resize_crop      none: a plain default for small       shorter side size, random size crop
                   photos
  pad_crop         ResNet on CIFAR-10 (He et al. 2016    shorter side size, centre crop, then
                   §4.2)                                 zero-padded by `padding` (4), random
                                                         size crop

then a horizontal flip (all of them) and, with `lighting` > 0, AlexNet's PCA lighting
(§4.1, sigma 0.1). Evaluation: shorter side 256, centre 224 crop (torchvision's ImageNet
evaluation); VGG's multi-scale evaluation (§4.2): centre crops at S = 256, 384, 512.

Geometry follows torchvision's PIL path (`Resize(int)`, `CenterCrop`, `RandomCrop`,
`RandomResizedCrop`) to the pixel: same rounding, same Pillow bilinear resampling.
"""
import difflib
import io

import numpy as np
from PIL import Image, ImageOps

from jcnn.data.images import UNREADABLE

# AlexNet's PCA of ImageNet's RGB pixels in [0, 1] (Krizhevsky et al. 2012 §4.1), with the
# numbers as fb.resnet.torch publishes them (datasets/imagenet.lua, `pca`) and timm and the
# PyTorch examples copy: eigenvalues, and the eigenvectors as the columns of IMAGENET_EIGVEC.
IMAGENET_EIGVAL = np.array([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                            [-0.5808, -0.0045, -0.8140],
                            [-0.5836, -0.6948, 0.4203]])

TRAIN_RECIPES = ("inception_crop", "alexnet_crop", "vgg_jitter", "resize_crop", "pad_crop")

_BILINEAR = Image.Resampling.BILINEAR


def decode(data: bytes, *, channels: int = 3, min_side: int | None = None) -> Image.Image:
  """Decodes an encoded image (any format Pillow reads) to RGB (channels=3) or L (1).

  A JPEG decodes at the smallest libjpeg scale (1/2, 1/4, 1/8) whose shorter side is still
  >= `min_side` (`Image.draft`): most of a large photo's decode time saved when it is
  resized down anyway. CMYK converts to RGB; 16-bit greyscale (32-bit integer: read as 16) scales
  to 8 bits (x / 257, rounded; not clipped at 255). Alpha is dropped, not composited, as
  torchvision's `ImageFolder` loader (`convert("RGB")`) does. EXIF orientation is not
  applied, as in ImageNet's tools (torchvision, TFDS, big_vision): pixels as stored.

  Args:
    data: the file's bytes.
    channels: 3 (RGB) or 1 (L).
    min_side: the shorter side a reduced JPEG decode must keep; None: full size.

  Returns:
    The loaded image, mode RGB or L.

  Raises:
    ValueError: with a short reason (empty, not an image, truncated or damaged, too many
      pixels, float pixels); the caller adds the file name.
  """
  image = _open(data)
  if min_side:
    _draft_to_side(image, min_side)
  return _load(image, channels)


def resize_shorter(image: Image.Image, side: int) -> Image.Image:
  """Scales the shorter side to `side`, the longer to int(side * long / short), bilinear:
  torchvision's `Resize(side)` on a PIL image, rounding included."""
  w, h = image.size
  short, long = min(w, h), max(w, h)
  size = (side, int(side * long / short)) if w <= h else (int(side * long / short), side)
  return image if size == image.size else image.resize(size, _BILINEAR)


def center_crop(image: Image.Image, size: int) -> Image.Image:
  """The centre size x size crop, rounded as torchvision's `CenterCrop`. An image smaller
  than `size` is refused (torchvision pads it with zeros)."""
  w, h = image.size
  if size > min(w, h):
    raise ValueError(f"center_crop: a {w}x{h} (WxH) image is smaller than {size}x{size}")
  top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
  return image.crop((left, top, left + size, top + size))


def random_crop(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
  """A size x size crop at uniform offsets (torchvision's `RandomCrop(size)`).

  Draws `rng.integers` for the top row, then for the left column.
  """
  w, h = image.size
  if size > min(w, h):
    raise ValueError(f"random_crop: a {w}x{h} (WxH) image is smaller than {size}x{size}")
  top = int(rng.integers(0, h - size + 1))
  left = int(rng.integers(0, w - size + 1))
  return image.crop((left, top, left + size, top + size))


def random_resized_crop_box(height: int, width: int, rng: np.random.Generator, *,
                            area=(0.08, 1.0), aspect=(3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
  """The box of a random-resized crop: torchvision's `RandomResizedCrop.get_params`.

  Up to 10 attempts, each drawing the area fraction (`rng.uniform` in `area`), then the
  log aspect (`rng.uniform` in log `aspect`); the first box that fits draws its top, then
  its left (`rng.integers`). When none fits, the whole image clamped to the aspect range,
  centred (no draws).

  Returns:
    (top, left, box height, box width).
  """
  if not (0 < area[0] <= area[1] and 0 < aspect[0] <= aspect[1]):
    raise ValueError(f"random_resized_crop: need 0 < low <= high, got area={area}, "
                     f"aspect={aspect}")
  log_aspect = np.log(aspect)
  for _ in range(10):
    target = height * width * rng.uniform(area[0], area[1])
    ratio = np.exp(rng.uniform(log_aspect[0], log_aspect[1]))
    w, h = int(round(np.sqrt(target * ratio))), int(round(np.sqrt(target / ratio)))
    if 0 < w <= width and 0 < h <= height:
      return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
  if width / height < aspect[0]:
    w, h = width, int(round(width / aspect[0]))
  elif width / height > aspect[1]:
    w, h = int(round(height * aspect[1])), height
  else:
    w, h = width, height
  return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(image: Image.Image, size: int, rng: np.random.Generator, *,
                        area=(0.08, 1.0), aspect=(3 / 4, 4 / 3)) -> Image.Image:
  """GoogLeNet's crop (Szegedy et al. 2015 §6; Inception v3): a box of `area` of the
  image and aspect in `aspect` (`random_resized_crop_box`, its draws), resized to
  size x size bilinear, as torchvision's `RandomResizedCrop(size)`."""
  top, left, h, w = random_resized_crop_box(image.height, image.width, rng, area=area,
                                            aspect=aspect)
  return image.crop((left, top, left + w, top + h)).resize((size, size), _BILINEAR)


def scale_jitter_crop(image: Image.Image, size: int, rng: np.random.Generator, *,
                      shorter=(256, 512)) -> Image.Image:
  """VGG's scale jitter (Simonyan & Zisserman 2015 §3.1): the shorter side to S, drawn
  uniform in [shorter[0], shorter[1]] (`rng.integers`, both ends included), then a random
  size x size crop (`random_crop`, its draws)."""
  side = _jitter_side(size, rng, shorter)
  return random_crop(resize_shorter(image, side), size, rng)


def flip(image: Image.Image, rng: np.random.Generator) -> Image.Image:
  """Mirrors left-right with probability 1/2: one `rng.random()`, flipped when < 0.5."""
  return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image


_flip = flip  # `train_example`'s argument `flip` hides the function there.


def pca_lighting(pixels: np.ndarray, rng: np.random.Generator, sigma: float = 0.1) -> np.ndarray:
  """AlexNet's lighting noise (§4.1): adds IMAGENET_EIGVEC @ (alpha * IMAGENET_EIGVAL),
  scaled to [0, 255], to every pixel; alpha ~ N(0, sigma) per image.

  Args:
    pixels: [..., 3] RGB, in [0, 255].
    rng: draws alpha, 3 normals (also when sigma is 0).
    sigma: alpha's standard deviation; AlexNet's 0.1.

  Returns:
    [..., 3] uint8, rounded and clipped.
  """
  if pixels.shape[-1] != 3:
    raise ValueError(f"pca_lighting needs RGB pixels [..., 3], got shape {pixels.shape}")
  alpha = rng.normal(0.0, sigma, 3)
  offset = (IMAGENET_EIGVEC @ (alpha * IMAGENET_EIGVAL) * 255).astype(np.float32)
  return np.clip(np.rint(pixels.astype(np.float32) + offset), 0, 255).astype(np.uint8)


def train_example(data: bytes, *, recipe: str, size: int, rng: np.random.Generator,
                  flip: bool = True, lighting: float = 0.0, channels: int = 3,
                  draft: bool = True, padding: int = 4) -> np.ndarray:
  """One training example: `recipe`'s crop (see the module's table), then a flip, then
  PCA lighting.

  Draws, in order: the recipe's (inception_crop: `random_resized_crop_box`'s; alexnet_crop,
  resize_crop and pad_crop: `random_crop`'s; vgg_jitter: `scale_jitter_crop`'s), then one for the
  flip (if `flip`), then three for the lighting (if `lighting` > 0).

  Args:
    data: the encoded photo.
    recipe: one of TRAIN_RECIPES.
    size: the output's side.
    rng: this example's generator.
    flip: mirror with probability 1/2.
    lighting: PCA lighting's sigma (AlexNet: 0.1); 0 for none. RGB only.
    channels: 3 (RGB) or 1 (L).
    draft: decode JPEGs at reduced size where the crop allows it: to the resize's side, or
      for inception_crop so that the drawn box still spans >= `size` decoded pixels (the
      box is drawn on the full size first, so the draws do not depend on `draft`).
    padding: pad_crop's zero border on each side.

  Returns:
    [size, size, channels] uint8.
  """
  if recipe not in TRAIN_RECIPES:
    close = difflib.get_close_matches(recipe, TRAIN_RECIPES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown recipe {recipe!r}{hint}; known: {', '.join(TRAIN_RECIPES)}")
  if lighting and channels != 3:
    raise ValueError(f"PCA lighting needs RGB (channels=3), got channels={channels}")
  image = _open(data)  # the header only: its size decides the draft scale
  if recipe == "inception_crop":
    image = _inception_crop(image, size, rng, channels, draft)
  elif recipe == "pad_crop":
    if padding < 0:
      raise ValueError(f"pad_crop's padding must be >= 0, got {padding}")
    image = center_crop(resize_shorter(_load(image, channels), size), size)
    image = random_crop(ImageOps.expand(image, border=padding, fill=0), size, rng)
  else:
    if recipe == "vgg_jitter":
      side = _jitter_side(size, rng, (round(256 * size / 224), round(512 * size / 224)))
    else:
      side = round(256 * size / 224) if recipe == "alexnet_crop" else size
    if draft:
      _draft_to_side(image, side)
    image = random_crop(resize_shorter(_load(image, channels), side), size, rng)
  if flip:
    image = _flip(image, rng)
  pixels = _pixels(image)
  return pca_lighting(pixels, rng, lighting) if lighting > 0 else pixels


def eval_example(data: bytes, *, size: int, resize: int | None = None, channels: int = 3,
                 draft: bool = False) -> np.ndarray:
  """The shorter side to `resize` (default round(size / 0.875): 256 for 224), then the
  centre size x size crop: torchvision's ImageNet evaluation. No draws.

  Args:
    draft: decode JPEGs at reduced size (>= `resize`); off by default so that large photos
      evaluate exactly as torchvision does, the pipeline published accuracies come from.

  Returns:
    [size, size, channels] uint8.
  """
  side = resize or round(size / 0.875)
  image = decode(data, channels=channels, min_side=side if draft else None)
  return _pixels(center_crop(resize_shorter(image, side), size))


def multi_scale_example(data: bytes, size: int, scales=(256, 384, 512), *,
                        channels: int = 3) -> np.ndarray:
  """VGG's multi-scale evaluation (Simonyan & Zisserman 2015 §4.2; scale-jittered training:
  S = 256, 384, 512), as the centre size x size crop at each scale (VGG itself evaluates
  densely over the whole image). No draws.

  Returns:
    [len(scales), size, size, channels] uint8.
  """
  image = decode(data, channels=channels)
  return np.stack([_pixels(center_crop(resize_shorter(image, s), size)) for s in scales])


def _open(data: bytes) -> Image.Image:
  """The image's header, read without decoding its pixels."""
  if not data:
    raise ValueError("empty file (0 bytes)")
  try:
    return Image.open(io.BytesIO(data))
  except Image.DecompressionBombError as e:
    raise ValueError(f"too many pixels: {e}") from None
  except Image.UnidentifiedImageError:
    raise ValueError(f"not an image Pillow can read (starts {data[:8]!r})") from None
  except UNREADABLE as e:
    raise ValueError(f"damaged image header: {e}") from None


def _draft(image: Image.Image, scale: int) -> int:
  """Asks a JPEG's decoder for 1/`scale` (8, 4 or 2) of its size, ceil-rounded; returns the
  scale it will use: `scale`, or 1 for other formats."""
  # Pillow picks the largest of 8, 4, 2, 1 within min(width // requested width, ...), and
  # width // (width // scale) lies in [scale, 2 scale).
  if 1 < scale <= min(image.size):
    if image.draft(image.mode, (image.width // scale, image.height // scale)):
      return scale
  return 1


def _draft_to_side(image: Image.Image, min_side: int) -> int:
  """Drafts the most reduced JPEG scale whose shorter side stays >= `min_side`."""
  short = min(image.size)
  return _draft(image, next((s for s in (8, 4, 2) if -(-short // s) >= min_side), 1))


def _load(image: Image.Image, channels: int) -> Image.Image:
  """Decodes the pixels and converts them to RGB or L (see `decode`)."""
  if channels not in (1, 3):
    raise ValueError(f"channels must be 1 or 3, got {channels}")
  try:
    image.load()
  except Image.DecompressionBombError as e:
    raise ValueError(f"too many pixels: {e}") from None
  except UNREADABLE as e:
    raise ValueError(f"truncated or damaged: {e}") from None
  if image.mode == "F":
    raise ValueError("floating-point pixels (mode F) have no 8-bit scale")
  if image.mode.startswith("I"):  # I;16, I;16B (16-bit PNG), I (32-bit): a 16-bit range
    wide = np.clip(np.asarray(image).astype(np.float64), 0, 65535)
    image = Image.fromarray(np.rint(wide / 257).astype(np.uint8))
  mode = "RGB" if channels == 3 else "L"
  return image if image.mode == mode else image.convert(mode)


def _inception_crop(image: Image.Image, size: int, rng: np.random.Generator, channels: int,
                    draft: bool) -> Image.Image:
  """`random_resized_crop` on an unloaded image: the box is drawn on the full size, then the
  JPEG decodes at the largest scale that keeps the box >= size pixels on its shorter side."""
  top, left, h, w = random_resized_crop_box(image.height, image.width, rng)
  scale = _draft(image, next((s for s in (8, 4, 2) if s * size <= min(h, w)), 1)) if draft else 1
  image = _load(image, channels)
  if scale == 1:
    return image.crop((left, top, left + w, top + h)).resize((size, size), _BILINEAR)
  box = (left / scale, top / scale, (left + w) / scale, (top + h) / scale)
  return image.resize((size, size), _BILINEAR, box=box)


def _jitter_side(size: int, rng: np.random.Generator, shorter) -> int:
  if not size <= shorter[0] <= shorter[1]:
    raise ValueError(f"scale jitter needs size <= shorter[0] <= shorter[1], got size={size}, "
                     f"shorter={shorter}")
  return int(rng.integers(shorter[0], shorter[1] + 1))


def _pixels(image: Image.Image) -> np.ndarray:
  """[H, W, C] uint8, a writable copy."""
  pixels = np.array(image)
  return pixels[..., None] if pixels.ndim == 2 else pixels
