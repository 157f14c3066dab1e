"""Synthetic detection canvases: real digits scattered on a black square, with boxes.

A canvas of split "train" uses only its source's training digits and a "test" canvas only
its test digits, so a detector's test score measures digits it never saw. Canvas i is
drawn from a generator seeded by (seed, split, i) alone: a smaller `num_train` gives the
first canvases of a larger one. Built once, then read from an .npz cache.
"""
import dataclasses
import gzip
import hashlib
import json
import math
import os
import pathlib
import zlib

import numpy as np
from PIL import Image

from jcnn.data import npz
from jcnn.data.digits import load_digits

SOURCES = {"mnist_detection": "mnist", "digits_detection": "digits"}
CLASS_NAMES = tuple(str(d) for d in range(10))
# Bumped whenever the drawing changes, so that stale caches are not read.
_VERSION = 1
_PLACEMENT_TRIES = 64     # positions tried per digit before it is left out
_REDRAWS = 100            # canvases redrawn before a crowded config is refused
_CLUTTER_COUNT = (1, 3)   # fragments per canvas, inclusive
_CLUTTER_SIDE = (6, 12)   # fragment side in pixels, inclusive
_CLUTTER_OVERLAP = 0.1    # at most this fraction of a fragment inside a digit's box
_CROP_TRIES = 8           # crops of a digit compared to cut a fragment
_MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_MAX_IDX_BYTES = 1 << 28  # MNIST's training images are 47 MB; a header declaring more lies


@dataclasses.dataclass(frozen=True)
class CanvasConfig:
  """How the synthetic canvases are drawn.

  Attributes:
    size: canvas side in pixels.
    min_digits, max_digits: boxed digits per canvas, inclusive.
    min_digit_size, max_digit_size: longer side of a digit's ink, inclusive.
    max_iou: the largest IoU between two digits' boxes.
    clutter: add a few small unboxed fragments of other digits.
    num_train, num_test: canvases in the train and test splits.
    seed: selects every canvas.
  """
  size: int = 128
  min_digits: int = 1
  max_digits: int = 6
  min_digit_size: int = 16
  max_digit_size: int = 64
  max_iou: float = 0.1
  clutter: bool = True
  num_train: int = 10_000
  num_test: int = 2_000
  seed: int = 0

  def __post_init__(self):
    checks = [("min_digits", 1 <= self.min_digits <= self.max_digits,
               f"must be in [1, max_digits={self.max_digits}]"),
              ("min_digit_size", 2 <= self.min_digit_size <= self.max_digit_size,
               f"must be in [2, max_digit_size={self.max_digit_size}]"),
              ("max_digit_size", self.max_digit_size <= self.size,
               f"must be <= size={self.size}"),
              ("max_iou", 0 <= self.max_iou < 1, "must be in [0, 1)"),
              ("num_train", self.num_train > 0, "must be positive"),
              ("num_test", self.num_test > 0, "must be positive"),
              ("seed", self.seed >= 0, "must be >= 0")]
    for field, ok, rule in checks:
      if not ok:
        raise ValueError(f"CanvasConfig.{field} = {getattr(self, field)!r} {rule}")

  def count(self, split: str) -> int:
    return self.num_train if split == "train" else self.num_test


def source_digits(name: str, split: str,
                  data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The digits canvases of `name`/`split` are made of: images [N, h, w] uint8, labels [N].

  Args:
    name: "mnist_detection" (MNIST's 60,000 / 10,000, read from the original idx files
      in `data_dir`, default $JCNN_DATA_DIR/mnist) or "digits_detection" (scikit-learn's
      8x8 digits, split 1,347 / 450 as `jcnn.data.load("digits", split)`).
    split: "train" or "test".
    data_dir: the folder of MNIST's four .gz files; not used by digits_detection.
  """
  if split not in ("train", "test"):
    raise ValueError(f"{name} has splits ('train', 'test'), got {split!r}")
  if name == "digits_detection":
    if data_dir is not None:
      raise ValueError(f"digits_detection is bundled with scikit-learn and reads no "
                       f"data_dir, got {data_dir!r}")
    digits = load_digits(split)
    return digits.images[..., 0], digits.labels
  if name != "mnist_detection":
    raise ValueError(f"no digit source for {name!r}; choose from {tuple(SOURCES)}")
  if data_dir is None:
    if "JCNN_DATA_DIR" not in os.environ:
      raise FileNotFoundError("mnist_detection reads MNIST's idx files: pass data_dir or "
                              "set $JCNN_DATA_DIR to a folder holding mnist/")
    data_dir = pathlib.Path(os.environ["JCNN_DATA_DIR"]) / "mnist"
  image_file, label_file = (pathlib.Path(data_dir).expanduser() / f
                            for f in _MNIST_FILES[split])
  images = _read_idx(image_file, 3)
  labels = _read_idx(label_file, 1).astype(np.int32)
  if len(images) != len(labels):
    raise ValueError(f"{image_file}: {len(images)} images but {label_file}: "
                     f"{len(labels)} labels")
  return images, labels


def _read_idx(path: pathlib.Path, ndim: int) -> np.ndarray:
  """An unsigned-byte idx file (MNIST's format) as an array of `ndim` axes.

  Only as many bytes as the header's shape needs are decompressed, so a gzip bomb costs
  no more memory than MNIST itself.
  """
  if not path.is_file():
    raise FileNotFoundError(f"MNIST file {path} not found: data_dir must hold MNIST's four "
                            "original idx .gz files")
  try:
    with gzip.open(path, "rb") as f:
      header = f.read(4 + 4 * ndim)
      magic = int.from_bytes(header[:4], "big")
      if magic != 0x800 + ndim:
        raise ValueError(f"{path}: idx magic {magic:#x}, expected {0x800 + ndim:#x} (uint8, "
                         f"{ndim} axes)")
      if len(header) < 4 + 4 * ndim:
        raise ValueError(f"{path}: ends inside its idx header")
      shape = [int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
      size = math.prod(shape)
      if size > _MAX_IDX_BYTES:
        raise ValueError(f"{path}: idx header declares shape {shape}, over the "
                         f"{_MAX_IDX_BYTES} bytes an MNIST file may hold")
      data = f.read(size)
      extra = f.read(1)
  except (OSError, EOFError, zlib.error) as e:  # OSError: gzip.BadGzipFile, a bad CRC
    raise ValueError(f"{path}: not a readable gzip file ({e})") from None
  if extra:
    raise ValueError(f"{path}: holds more than the {size} bytes its idx shape {shape} needs")
  if len(data) != size:
    raise ValueError(f"{path}: ends after {len(data)} of the {size} bytes its idx shape "
                     f"{shape} needs")
  return np.frombuffer(data, np.uint8).reshape(shape)


def render_digit(image: np.ndarray, side: int) -> np.ndarray:
  """A digit cropped to its ink, resized (aspect kept) so its longer side is `side`.

  The result is cropped to its ink again, so its shape is the digit's tight box.

  Args:
    image: [h, w] uint8 with some ink (> 0).
    side: the longer side after resizing, in pixels.

  Returns:
    [h', w'] uint8, every border row and column holding ink; max(h', w') <= side.
  """
  patch = _crop_to_ink(image)
  h, w = patch.shape
  scale = side / max(h, w)
  size = (max(1, round(w * scale)), max(1, round(h * scale)))
  resized = np.asarray(Image.fromarray(patch).resize(size, Image.BILINEAR))
  if not resized.any():  # faint strokes averaged away: keep them
    resized = np.asarray(Image.fromarray(patch).resize(size, Image.NEAREST))
  return _crop_to_ink(resized)


def _crop_to_ink(image: np.ndarray) -> np.ndarray:
  rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
  if not rows.size:
    raise ValueError("a digit without ink (no pixel > 0)")
  return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def generate(config: CanvasConfig, split: str, images: np.ndarray,
             labels: np.ndarray) -> dict[str, np.ndarray]:
  """Draws the canvases of `split` from the source digits `images` [N, h, w], `labels`.

  Returns:
    Flat arrays: "images" [C, size, size, 1] uint8; per canvas "counts" and
    "clutter_counts" [C]; per box, canvas after canvas, "boxes" [B, 4] float32 xyxy
    (integer pixel edges), "labels" [B], "source_index" [B] (the digit's index in the
    source split), "source_side" [B] (its `render_digit` side); per fragment
    "clutter_boxes" [F, 4] and "clutter_index" [F].
  """
  split_id = {"train": 0, "test": 1}[split]
  canvases = np.zeros((config.count(split), config.size, config.size, 1), np.uint8)
  out = {k: [] for k in ("boxes", "labels", "source_index", "source_side", "counts",
                         "clutter_boxes", "clutter_index", "clutter_counts")}
  for i, canvas in enumerate(canvases[..., 0]):
    rng = np.random.default_rng([config.seed, split_id, i])
    boxes, index, side = _place_digits(config, rng, images, canvas)
    out["boxes"].extend(boxes)
    out["labels"].extend(labels[index])
    out["source_index"].extend(index)
    out["source_side"].extend(side)
    out["counts"].append(len(boxes))
    fragments, fragment_index = (
        _add_clutter(config, rng, images, canvas, np.asarray(boxes), set(index))
        if config.clutter else ([], []))
    out["clutter_boxes"].extend(fragments)
    out["clutter_index"].extend(fragment_index)
    out["clutter_counts"].append(len(fragments))
  arrays = {"images": canvases}
  for key, values in out.items():
    dtype = np.float32 if key.endswith("boxes") else np.int32
    arrays[key] = np.asarray(values, dtype).reshape((-1, 4) if key.endswith("boxes")
                                                    else (-1,))
  return arrays


def _place_digits(config, rng, images, canvas):
  """Max-composites between min_digits and max_digits digits onto `canvas` in place."""
  for _ in range(_REDRAWS):
    count = rng.integers(config.min_digits, config.max_digits + 1)
    boxes, index, side = [], [], []
    canvas[:] = 0
    for _ in range(count):
      i = int(rng.integers(len(images)))
      s = int(rng.integers(config.min_digit_size, config.max_digit_size + 1))
      patch = render_digit(images[i], s)
      h, w = patch.shape
      xy = rng.integers(0, [config.size - w + 1, config.size - h + 1],
                        size=(_PLACEMENT_TRIES, 2))
      tries = np.concatenate([xy, xy + [w, h]], axis=1).astype(np.float64)
      if boxes:
        ok = np.flatnonzero(_iou(tries, np.asarray(boxes)).max(1) <= config.max_iou)
        if not ok.size:
          continue
        x1, y1 = xy[ok[0]]
      else:
        x1, y1 = xy[0]
      region = canvas[y1:y1 + h, x1:x1 + w]
      np.maximum(region, patch, out=region)
      boxes.append([x1, y1, x1 + w, y1 + h])
      index.append(i)
      side.append(s)
    # Crowded draws that left out digits below the minimum are redrawn.
    if len(boxes) >= config.min_digits:
      return boxes, np.asarray(index, np.int64), side
  raise ValueError(f"{config}: {_REDRAWS} draws could not place min_digits="
                   f"{config.min_digits} digits with max_iou={config.max_iou}; allow "
                   "smaller digits, fewer digits or a larger canvas")


def _add_clutter(config, rng, images, canvas, boxes, used):
  """Max-composites a few unboxed fragments of other digits onto `canvas` in place."""
  fragments, index = [], []
  for _ in range(rng.integers(_CLUTTER_COUNT[0], _CLUTTER_COUNT[1] + 1)):
    i = int(rng.integers(len(images)))
    while i in used:
      i = (i + 1) % len(images)
    patch = render_digit(images[i], int(rng.integers(config.min_digit_size,
                                                     config.max_digit_size + 1)))
    side = rng.integers(_CLUTTER_SIDE[0], _CLUTTER_SIDE[1] + 1)
    h, w = min(side, patch.shape[0]), min(side, patch.shape[1])
    # Of a few crops, the one with the most ink: a stroke, not a faint corner.
    origins = rng.integers(0, [patch.shape[0] - h + 1, patch.shape[1] - w + 1],
                           size=(_CROP_TRIES, 2))
    y0, x0 = max(origins, key=lambda o: int(patch[o[0]:o[0] + h, o[1]:o[1] + w].sum()))
    piece = patch[y0:y0 + h, x0:x0 + w]
    xy = rng.integers(0, [config.size - w + 1, config.size - h + 1], size=(_PLACEMENT_TRIES, 2))
    tries = np.concatenate([xy, xy + [w, h]], axis=1).astype(np.float64)
    ok = np.flatnonzero(_intersection(tries, boxes).max(1, initial=0) <= _CLUTTER_OVERLAP * h * w)
    if not ok.size:
      continue
    x1, y1 = xy[ok[0]]
    region = canvas[y1:y1 + h, x1:x1 + w]
    np.maximum(region, piece, out=region)
    fragments.append([x1, y1, x1 + w, y1 + h])
    index.append(i)
  return fragments, index


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Intersection areas [len(a), len(b)] of xyxy boxes."""
  b = np.asarray(b, np.float64).reshape(-1, 4)
  wh = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) -
               np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
  return wh[..., 0] * wh[..., 1]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  inter = _intersection(a, b)
  area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
  return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def cache_path(name: str, split: str, config: CanvasConfig,
               cache_dir: str | os.PathLike) -> pathlib.Path:
  """The .npz of these canvases: keyed by the source, split and the fields that draw them."""
  fields = dataclasses.asdict(config)
  fields.pop("num_train")
  fields.pop("num_test")
  key = json.dumps({"version": _VERSION, "source": name, "split": split,
                    "count": config.count(split), **fields}, sort_keys=True)
  digest = hashlib.sha256(key.encode()).hexdigest()[:16]
  return pathlib.Path(cache_dir).expanduser() / "detection" / f"{name}-{split}-{digest}.npz"


def load_canvases(name: str, split: str, config: CanvasConfig,
                  data_dir: str | os.PathLike | None,
                  cache_dir: str | os.PathLike) -> dict[str, np.ndarray]:
  """The arrays of `generate`, from the cache when built before."""
  path = cache_path(name, split, config, cache_dir)
  if path.is_file():
    return npz.load(path)
  arrays = generate(config, split, *source_digits(name, split, data_dir))
  path.parent.mkdir(parents=True, exist_ok=True)
  # Written beside and renamed: a reader never sees half a file.
  partial = path.with_name(f".{path.stem}.{os.getpid()}.npz")
  np.savez_compressed(partial, **arrays)
  os.replace(partial, path)
  return arrays


def records(name: str, split: str, arrays: dict[str, np.ndarray]) -> list[dict]:
  """One record per canvas (jcnn.detection.data.annotations' format, image in memory).

  Besides the usual fields a record keeps the digits' provenance: "source"
  ("mnist/train", ...), "source_index" and "source_side" per box, and the unboxed
  fragments' "clutter_boxes" and "clutter_index".
  """
  images = arrays["images"]
  images.flags.writeable = False  # records share these pixels: a caller's edit would leak
  size = images.shape[1]
  ends = np.cumsum(arrays["counts"])
  clutter_ends = np.cumsum(arrays["clutter_counts"])
  out = []
  for i, image in enumerate(images):
    box = slice(ends[i] - arrays["counts"][i], ends[i])
    frag = slice(clutter_ends[i] - arrays["clutter_counts"][i], clutter_ends[i])
    out.append({
        "image_path": f"{name}/{split}/{i:05d}", "image": image, "width": size,
        "height": size, "boxes": arrays["boxes"][box], "labels": arrays["labels"][box],
        "difficult": np.zeros(box.stop - box.start, bool), "class_names": CLASS_NAMES,
        "source": f"{SOURCES[name]}/{split}", "source_index": arrays["source_index"][box],
        "source_side": arrays["source_side"][box],
        "clutter_boxes": arrays["clutter_boxes"][frag],
        "clutter_index": arrays["clutter_index"][frag]})
  return out
