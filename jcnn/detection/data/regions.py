"""R-CNN's fine-tuning data: every proposal and ground-truth box of a split as a labelled
window, and mini-batches of warped windows (rbg's Caffe WindowDataLayer).

  found = regions.windows(split, cache)                   # labels: 0 background, c + 1
  for batch in regions.batches(split, found, images, size=32, context=4, epoch=0):
    batch["image"] [128, 32, 32, C], batch["label"] [128]  # 32 foreground, 96 background
  regions.sampled(...)                    # the same windows unwarped, on their images

Each batch is drawn from the generator of (seed, epoch, batch index) (`jcnn.data.order`),
so a resumed run sees the batches an uninterrupted one would have.
"""
import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from jcnn.data import order
from jcnn.data.pipeline import normaliser
from jcnn.detection import rcnn
from jcnn.detection.data.split import DetectionSplit


@dataclasses.dataclass(frozen=True)
class Windows:
  """All windows of a split: image index [W], boxes [W, 4] xyxy, labels [W] (0
  background, class + 1), IoU with the best ground truth [W]."""
  image: np.ndarray
  boxes: np.ndarray
  labels: np.ndarray
  iou: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  @property
  def num_foreground(self) -> int:
    return int((self.labels > 0).sum())


def windows(split: DetectionSplit, cache, foreground_iou: float = 0.5) -> Windows:
  """The ground-truth boxes (as positives, rbg's) and the cached proposals of every
  image, labelled by `rcnn.region_labels` (IoU >= foreground_iou: the class)."""
  if len(cache) != len(split):
    raise ValueError(f"the proposals cache holds {len(cache)} images, the split "
                     f"{len(split)}")
  parts = []
  for i, record in enumerate(split.records):
    gt = np.asarray(record["boxes"], np.float32).reshape(-1, 4)
    boxes = np.concatenate([gt, np.asarray(cache[i], np.float32).reshape(-1, 4)])
    labels, iou, _ = rcnn.region_labels(boxes, gt, record["labels"], foreground_iou)
    parts.append((np.full(len(boxes), i), boxes, labels, iou))
  image, boxes, labels, iou = (np.concatenate(p) for p in zip(*parts))
  return Windows(image.astype(np.int64), boxes, labels.astype(np.int64),
                 iou.astype(np.float32))


def sampled(split: DetectionSplit, found: Windows, images: np.ndarray, *,
            num_batches: int, batch_size: int = 128, positives: int = 32,
            mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,), seed: int = 0,
            epoch: int = 0, start_batch: int = 0) -> Iterator[dict]:
  """Mini-batches of windows on their images: `positives` foreground, the rest
  background. SPP-net pools them from its conv map; `batches` warps them for R-CNN.

  Args:
    split: the split `found` was made from.
    found: its windows (`windows`).
    images: uint8 [N, H, W, C], the split's images at one size (the boxes' pixels).
    num_batches: batches in an epoch.
    batch_size, positives: the paper's 128 and 32.
    mean, std: per-channel statistics of the pixels in [0, 1] (`jcnn.data.batches`').
    seed, epoch, start_batch: where in the run the batches are.

  Yields:
    {"images": float32 [batch_size, H, W, C] (the batch's distinct images, normalised,
    zero-padded so that every batch has one shape), "boxes": [batch_size, 4],
    "index": int32 [batch_size] (each window's image), "label": int32 [batch_size]}.
  """
  if len(images) != len(split):
    raise ValueError(f"{len(images)} images for a split of {len(split)}")
  normalise = normaliser(images.shape[1:], mean, std)
  for b in range(start_batch, num_batches):
    rng = order.batch_rng(seed, epoch, b)
    chosen = rcnn.sample_regions(rng, found.labels, batch_size, positives)
    used, index = np.unique(found.image[chosen], return_inverse=True)
    stack = np.zeros((batch_size,) + images.shape[1:], np.float32)
    stack[:len(used)] = normalise(images[used])
    yield {"images": stack, "boxes": found.boxes[chosen].astype(np.float32),
           "index": index.astype(np.int32), "label": found.labels[chosen].astype(np.int32)}


def batches(split: DetectionSplit, found: Windows, images: np.ndarray, *, size: int,
            context: int, square: bool = False, **sampling) -> Iterator[dict]:
  """R-CNN's mini-batches: `sampled`'s windows warped with context (`rcnn.warp_regions`).

  Yields:
    {"image": float32 [batch_size, size, size, C], "label": int32 [batch_size]}.
  """
  for batch in sampled(split, found, images, **sampling):
    crops = rcnn.warp_regions(batch["images"], batch["boxes"], size, context, square,
                              image_index=batch["index"])
    yield {"image": np.asarray(crops), "label": batch["label"]}
