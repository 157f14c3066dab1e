"""Detection batches: images resized as py-faster-rcnn does, padded to one shape, boxes
padded to a fixed count with a mask.

The reproducibility rules are `jcnn.data.batches`': order and flips are drawn from
generators seeded by (seed, epoch[, batch index]), so a run resumed at `start_batch=k`
sees exactly the batches an uninterrupted run would have seen.
"""
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

from jcnn.data import order as order_lib
from jcnn.data.pipeline import normaliser
from jcnn.detection.data.split import DetectionSplit

# ITU-R 601-2 luma, Pillow's RGB -> L.
_LUMA = np.asarray([0.299, 0.587, 0.114], np.float32)


def resize_and_pad(image: np.ndarray, boxes: np.ndarray, *, min_size: int, max_size: int,
                   padded_shape: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, float, tuple[int, int]]:
  """Scales the shorter side to `min_size` unless the longer would pass `max_size`.

  py-faster-rcnn's rule (`prep_im_for_blob`): scale = min_size / shorter side, reduced to
  max_size / longer side when round(scale * longer side) > max_size. The content sits at
  the top left; the rest is zero.

  Args:
    image: [h, w, C] uint8.
    boxes: [N, 4] xyxy in the image's pixels.
    min_size, max_size: the target shorter side and the cap on the longer side.
    padded_shape: (ph, pw), at least the resized content.

  Returns:
    (image uint8 [ph, pw, C], boxes float32 [N, 4] times scale, scale, (h', w') the
    resized content's size).
  """
  h, w = image.shape[:2]
  scale, size = resized_size(h, w, min_size=min_size, max_size=max_size)
  ph, pw = padded_shape
  if size[0] > ph or size[1] > pw:
    raise ValueError(f"a {h}x{w} image resized to {size[0]}x{size[1]} (min_size "
                     f"{min_size}, max_size {max_size}) does not fit padded_shape "
                     f"{tuple(padded_shape)}")
  resized = image
  if size != (h, w):
    # Pillow resizes RGB or one band at a time, each band alike.
    c = image.shape[2]
    bands = [image] if c == 3 else [image[..., k] for k in range(c)]
    resized = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(band)).resize(
        size[::-1], Image.BILINEAR)) for band in bands], axis=-1).reshape(size + (c,))
  out = np.zeros((ph, pw, image.shape[2]), np.uint8)
  out[:size[0], :size[1]] = resized
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4) * np.float32(scale)
  return out, boxes, float(scale), size


def resized_size(h: int, w: int, *, min_size: int, max_size: int
                 ) -> tuple[float, tuple[int, int]]:
  """py-faster-rcnn's scale for an h×w image and the (h', w') it resizes to."""
  scale = min_size / min(h, w)
  if np.round(scale * max(h, w)) > max_size:
    scale = max_size / max(h, w)
  return scale, (max(1, int(np.round(h * scale))), max(1, int(np.round(w * scale))))


def convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
  """[h, w, C] uint8 as `channels` (1 <-> 3: grey repeated, or Pillow's luma)."""
  have = image.shape[2]
  if have == channels:
    return image
  if (have, channels) == (1, 3):
    return np.repeat(image, 3, axis=2)
  if (have, channels) == (3, 1):
    return np.round(image.astype(np.float32) @ _LUMA).astype(np.uint8)[..., None]
  raise ValueError(f"cannot convert {have} channels to {channels}")


def batches(split: DetectionSplit, batch_size: int, *, min_size: int, max_size: int,
            padded_shape: tuple[int, int], max_boxes: int, train: bool, seed: int = 0,
            epoch: int = 0, start_batch: int = 0, flip: bool = False,
            mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
            channels: int | None = None, rows: slice = slice(None)
            ) -> Iterator[dict[str, np.ndarray]]:
  """Yields one epoch of batches, from batch `start_batch` on.

  train=True: a fresh permutation per (seed, epoch), the last partial batch dropped, and
  horizontal flips drawn per (seed, epoch, batch index).
  train=False: the split's order; the last batch is padded with repeated examples
  carrying mask False, so that every batch has one shape (one compile).

  Args:
    split: the images and their records.
    batch_size: B.
    min_size, max_size, padded_shape: as `resize_and_pad`; padded_shape (H, W).
    max_boxes: boxes per image; an image with more keeps its first max_boxes (a warning).
    train: training (shuffled, flipped) or evaluation (ordered, complete) batches.
    seed, epoch: select the shuffle and flips; >= 0.
    start_batch: the first batch to yield, to resume mid-epoch.
    flip: random horizontal flips; train only.
    mean, std: per-channel (or scalar) statistics of pixels in [0, 1]; None gives x / 255.
    channels: convert the images to this many channels (1 or 3); default the split's.
    rows: the rows of every batch to load (`jcnn.parallel.local_rows`: this process's
      share; the flips are drawn for the whole batch); default all. The arrays below
      then hold those b rows of B.

  Yields:
    {"image": float32 [B, H, W, C] normalised, 0 (the mean colour) in the padding,
     "boxes": float32 [B, max_boxes, 4] in network-input pixels, "labels": int32
     [B, max_boxes], "box_mask", "difficult": bool [B, max_boxes], "image_size": int32
     [B, 2] (h, w) of the resized content, "scale": float32 [B], "index": int32 [B] in
     the split, "mask": bool [B] False on padding examples}.
  """
  n = len(split)
  num_batches = order_lib.batches_per_epoch(n, batch_size, train)
  if not train and flip:
    raise ValueError("augmentation is for training only, got train=False with flip=True")
  order_lib.check_position(seed, epoch, start_batch, num_batches)
  if max_boxes <= 0:
    raise ValueError(f"max_boxes must be > 0, got {max_boxes}")
  channels = split.channels if channels is None else channels
  ph, pw = padded_shape
  normalise = normaliser((ph, pw, channels), mean, std)
  order = order_lib.epoch_order(n, seed, epoch, shuffle=train)
  warned = False
  for b in range(start_batch, num_batches):
    position = order_lib.positions(b, batch_size, rows)
    index = order[position % n]
    flips = (order_lib.batch_rng(seed, epoch, b).random(batch_size)[rows] < 0.5 if flip
             else np.zeros(len(position), bool))
    size = len(position)
    batch = {"image": np.zeros((size, ph, pw, channels), np.uint8),
             "boxes": np.zeros((size, max_boxes, 4), np.float32),
             "labels": np.zeros((size, max_boxes), np.int32),
             "box_mask": np.zeros((size, max_boxes), bool),
             "difficult": np.zeros((size, max_boxes), bool),
             "image_size": np.zeros((size, 2), np.int32),
             "scale": np.zeros(size, np.float32),
             "index": index.astype(np.int32), "mask": position < n}
    for j, i in enumerate(index):
      record = split.records[i]
      image = convert_channels(split.image(i), channels)
      boxes = record["boxes"]
      if flips[j]:
        image = image[:, ::-1]
        boxes = np.stack([record["width"] - boxes[:, 2], boxes[:, 1],
                          record["width"] - boxes[:, 0], boxes[:, 3]], axis=1)
      image, boxes, scale, size = resize_and_pad(
          image, boxes, min_size=min_size, max_size=max_size, padded_shape=padded_shape)
      if len(boxes) > max_boxes and not warned:
        warnings.warn(f"{split.name}/{split.split} image {i} has {len(boxes)} boxes; "
                      f"batches keep the first max_boxes={max_boxes} (and warn once)")
        warned = True
      k = min(len(boxes), max_boxes)
      batch["image"][j] = image
      batch["boxes"][j, :k] = boxes[:k]
      batch["labels"][j, :k] = record["labels"][:k]
      batch["box_mask"][j, :k] = True
      batch["difficult"][j, :k] = record["difficult"][:k]
      batch["image_size"][j] = size
      batch["scale"][j] = scale
    images = normalise(batch["image"])
    for j, (h, w) in enumerate(batch["image_size"]):
      images[j, h:] = 0
      images[j, :, w:] = 0
    batch["image"] = images
    yield batch
