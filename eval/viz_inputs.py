"""The images `eval viz` and `eval probe` look at, exactly as the model took them in
evaluation: a split's first images, or image files resized to the training size."""
import dataclasses
import pathlib

import numpy as np
from PIL import Image

from eval import classify_files
from jcnn import data, runs, tasks
from jcnn.data import streaming
from jcnn.data.images import UNREADABLE


@dataclasses.dataclass
class Inputs:
  """Normalised images [N, H, W, C] with their classes and names.

  Attributes:
    labels: the split's labels; for files, None (the model's prediction stands in).
    notes: what was done to the inputs (resizing), to print.
  """
  images: np.ndarray
  labels: np.ndarray | None
  names: list
  notes: list


def normalised(run: runs.Run, split: data.Split) -> np.ndarray:
  """`split`'s images through the run's evaluation input (padding, normalisation)."""
  task = tasks.get(run.config.task)
  out = [np.asarray(b["image"])[np.asarray(b["mask"]) > 0]
         for b in task.batches(run.config, run.dataset_info, split, train=False)]
  return np.concatenate(out)


def from_split(run: runs.Run, split: str, count: int, first: int | None = None) -> Inputs:
  """`count` images of the run's `split`: from index `first` on, or, when `first` is
  None, spread evenly over the split (image folders are sorted by class)."""
  loaded = tasks.get(run.config.task).load_split(run.config, split)
  n = len(loaded)
  if first is None:
    chosen = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
  elif not 0 <= first < n:
    raise ValueError(f"image index {first} out of range: split {split!r} has {n} images")
  else:
    chosen = np.arange(first, min(first + count, n))
  if isinstance(loaded, streaming.PhotoSplit):  # just these photos, as evaluation sees them
    subset = loaded.in_memory(chosen)
  else:
    subset = dataclasses.replace(loaded, images=loaded.images[chosen],
                                 labels=loaded.labels[chosen])
  return Inputs(normalised(run, subset), subset.labels.astype(np.int64),
                [f"{split}_{i}" for i in chosen], [])


def from_files(run: runs.Run, paths: list[str]) -> Inputs:
  """Image files, resized to the size the training images had before padding."""
  size = classify_files.training_size(run.config, run.dataset_info)
  notes = []
  for path in paths:
    try:
      with Image.open(path) as image:
        own = (image.height, image.width)
    except UNREADABLE as e:
      raise ValueError(f"cannot read image {path}: {e}") from None
    if own != tuple(size):
      notes.append(f"{path}: resized from {own[0]}x{own[1]} to {size[0]}x{size[1]}, the "
                   "training size")
  split = classify_files.files_split(run, paths, "viz")
  return Inputs(normalised(run, split), None, [pathlib.Path(p).stem for p in paths], notes)
