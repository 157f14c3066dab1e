"""`DetectionSplit`: the records of one split of a detection dataset, images on demand."""
import dataclasses
from collections.abc import Sequence

import numpy as np
from PIL import Image

from jcnn.data.images import UNREADABLE

# Annotation tools write edges as 0- or 1-based pixel numbers and round; a box this far
# outside its image is a rounding, beyond it a mistake.
BOX_TOLERANCE = 1.0


@dataclasses.dataclass(frozen=True, eq=False)
class DetectionSplit:
  """Records (jcnn.detection.data.annotations' format, original image pixels) and images.

  Photos stay on disk and are decoded by `image(i)`; the digit canvases and TFDS images
  are held in the records ("image").

  Attributes:
    class_names: the foreground classes; records' labels index into them.
    records: one dict per image: "boxes" [N, 4] float32 xyxy continuous, "labels" [N]
      int32, "difficult" [N] bool, "width", "height", "image_path" or "image".
    channels: 1 (the digit canvases) or 3 (photos).
    name: the dataset, e.g. "raccoon".
    split: the split, e.g. "test".
  """
  class_names: tuple[str, ...]
  records: list[dict]
  channels: int
  name: str = ""
  split: str = ""

  def __post_init__(self):
    if self.channels not in (1, 3):
      raise ValueError(f"{self.name}/{self.split}: channels must be 1 or 3, got "
                       f"{self.channels}")

  def __len__(self) -> int:
    return len(self.records)

  def image(self, i: int) -> np.ndarray:
    """The original image of record i: uint8 [height, width, channels]."""
    record = self.records[i]
    if "image" in record:
      image = np.asarray(record["image"])
      image = image[..., None] if image.ndim == 2 else image
    else:
      try:
        with Image.open(record["image_path"]) as file:
          image = np.asarray(file.convert("RGB" if self.channels == 3 else "L"))
      except UNREADABLE as e:
        raise ValueError(f"cannot decode image {record['image_path']}: {e}") from None
      image = image[..., None] if image.ndim == 2 else image
    if image.shape[:2] != (record["height"], record["width"]):
      raise ValueError(f"{record['image_path']}: the image is {image.shape[1]}x"
                       f"{image.shape[0]} (w x h) but its annotation says "
                       f"{record['width']}x{record['height']}")
    if image.shape[2] != self.channels:
      raise ValueError(f"{record['image_path']}: {image.shape[2]} channels, the split has "
                       f"{self.channels}")
    return image

  def subset(self, num_examples: int) -> "DetectionSplit":
    """The first `num_examples` images, for CPU-sized runs (canvases: the first drawn)."""
    if not 0 < num_examples <= len(self):
      raise ValueError(f"{self.name}/{self.split}: cannot take {num_examples} images of "
                       f"{len(self)}; ask for 1 to {len(self)}")
    return dataclasses.replace(self, records=self.records[:num_examples])


def checked(records: Sequence[dict], class_names: Sequence[str]) -> list[dict]:
  """The records after checking their boxes and labels, boxes clipped to their image.

  Raises:
    ValueError naming the annotation file (else the image): a box inverted (x2 < x1 or
    y2 < y1) or more than `BOX_TOLERANCE` px outside its image, a label that is not a
    class, or boxes, labels and flags of different lengths.
  """
  out = []
  for i, record in enumerate(records):
    where = record.get("annotation_path") or record.get("image_path") or f"record {i}"
    boxes = np.asarray(record["boxes"], np.float32).reshape(-1, 4)
    labels = np.asarray(record["labels"]).reshape(-1)
    difficult = np.asarray(record.get("difficult", np.zeros(len(labels), bool)), bool)
    if not len(boxes) == len(labels) == len(difficult):
      raise ValueError(f"{where}: {len(boxes)} boxes, {len(labels)} labels and "
                       f"{len(difficult)} difficult flags")
    bad = (labels < 0) | (labels >= len(class_names))
    if bad.any():
      raise ValueError(f"{where}: label {labels[bad][0]} is not a class of the dataset "
                       f"(0..{len(class_names) - 1}: {tuple(class_names)})")
    w, h = record["width"], record["height"]
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if inverted.any():
      raise ValueError(f"{where}: box {boxes[inverted][0].tolist()} has x2 < x1 or "
                       "y2 < y1 (boxes are x1, y1, x2, y2)")
    outside = (np.any(boxes < -BOX_TOLERANCE, axis=1) | (boxes[:, 2] > w + BOX_TOLERANCE)
               | (boxes[:, 3] > h + BOX_TOLERANCE))
    if outside.any():
      raise ValueError(f"{where}: box {boxes[outside][0].tolist()} lies outside its "
                       f"{w}x{h} (w x h) image")
    clipped = np.clip(boxes, 0, np.asarray([w, h, w, h], np.float32))
    out.append({**record, "boxes": clipped, "labels": labels.astype(np.int32),
                "difficult": difficult})
  return out
