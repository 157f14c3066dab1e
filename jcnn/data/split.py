"""`Split`: one split of a labelled image dataset, held in memory as numpy."""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
  """A whole split in RAM, so that shuffling and augmentation replay from a seed.

  Attributes:
    images: [N, H, W, C] uint8.
    labels: [N] int32, class indices into `class_names`.
    class_names: one name per class; `labels` index into it.
    name: the dataset, e.g. "mnist".
    split: the split, e.g. "train".
  """
  images: np.ndarray
  labels: np.ndarray
  class_names: tuple[str, ...]
  name: str
  split: str

  def __post_init__(self):
    if self.images.dtype != np.uint8 or self.images.ndim != 4:
      raise ValueError(f"{self.name}/{self.split}: images must be uint8 [N, H, W, C], got "
                       f"{self.images.dtype} {self.images.shape}")
    if self.labels.dtype != np.int32 or self.labels.shape != self.images.shape[:1]:
      raise ValueError(f"{self.name}/{self.split}: labels must be int32 [{len(self.images)}], "
                       f"got {self.labels.dtype} {self.labels.shape}")
    if self.labels.size and not 0 <= self.labels.min() <= self.labels.max() < self.num_classes:
      raise ValueError(f"{self.name}/{self.split}: labels span [{self.labels.min()}, "
                       f"{self.labels.max()}], outside [0, {self.num_classes}) for "
                       f"{self.num_classes} class names")

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def __len__(self) -> int:
    return len(self.labels)
