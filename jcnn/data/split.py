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

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return self.images.shape[1:]

  def __len__(self) -> int:
    return len(self.labels)


def balanced_subset(split: Split, num_examples: int) -> Split:
  """The first examples of each class in turn (`balanced_indices`), for CPU-sized runs
  on part of a split."""
  keep = balanced_indices(split.labels, num_examples, f"{split.name}/{split.split}")
  return dataclasses.replace(split, images=split.images[keep], labels=split.labels[keep])


def balanced_indices(labels: np.ndarray, num_examples: int, what: str) -> np.ndarray:
  """Which `num_examples` of the examples labelled `labels` a balanced subset keeps.

  Deterministic and seed-free, so a subset names the same images in every run: each
  class contributes its first examples in the split's order, the classes taking turns
  (counts differ by at most one while every class has images left). The kept examples
  stay in the split's order.

  Args:
    labels: [N] the split's labels.
    num_examples: how many to keep, 1 to N.
    what: the split, for the error message ("mnist/train").

  Returns:
    [num_examples] sorted indices into the split.
  """
  if not 0 < num_examples <= len(labels):
    raise ValueError(f"{what}: cannot take {num_examples} examples of {len(labels)}; ask "
                     f"for 1 to {len(labels)}")
  by_class = np.argsort(labels, kind="stable")
  class_starts = np.searchsorted(labels[by_class], labels[by_class])
  rank = np.empty(len(labels), np.int64)  # each example's place within its class
  rank[by_class] = np.arange(len(labels)) - class_starts
  return np.sort(np.lexsort((labels, rank))[:num_examples])  # by rank, then class
