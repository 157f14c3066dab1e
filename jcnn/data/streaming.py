"""Photos of any size, streamed: decoded and augmented per batch by Grain's worker processes.

A `PhotoSplit` is a split that is never held in memory: a file index (`jcnn.data.photos`)
and how a file becomes an example of `size`² pixels (`jcnn.data.transforms`: the papers'
training crops, evaluation's resize and centre crop). `batches` reads it with Grain's
`DataLoader`, keeping jcnn's contract: the epoch's order comes from (seed, epoch) and each
example's augmentation from (seed, epoch, position) (`jcnn.data.order`), so a run resumed
at any batch sees the batches an uninterrupted run saw, whatever the number of workers;
a process reads only its rows of each batch. Resident memory is the workers' buffers, not
the dataset: it does not grow with the number of photos.

A photo that does not decode stops the run with one line naming it (`bad_files="stop"`),
or (`"skip"`) is replaced by the next readable photo in the epoch's order, with one
warning line naming it.
"""
import dataclasses
import os
import warnings
from collections.abc import Iterator, Sequence

import grain
import numpy as np
from absl import flags

from jcnn.data import order as order_lib
from jcnn.data import transforms
from jcnn.data.photos import PhotoIndex
from jcnn.data.pipeline import normaliser
from jcnn.data.split import Split

BAD_FILE_POLICIES = ("stop", "skip")
_MAX_SKIPPED_IN_A_ROW = 16  # a folder this broken is not worth training on


@dataclasses.dataclass(frozen=True, eq=False)
class PhotoSplit:
  """One split of photos, streamed to `size`×`size` examples.

  Attributes:
    index: the files and their labels.
    size: the side of every example.
    recipe: the training crop (`transforms.TRAIN_RECIPES`).
    flip: random horizontal flips in training.
    lighting: AlexNet's PCA lighting σ in training (0: off).
    padding: pad_crop's zero border (CIFAR's ResNets: 4).
    eval_resize: evaluation's shorter side before the centre crop (0: size / 0.875).
    bad_files: "stop" or "skip" (see the module's docstring).
  """
  index: PhotoIndex
  size: int
  recipe: str = "inception_crop"
  flip: bool = True
  lighting: float = 0.0
  padding: int = 4
  eval_resize: int = 0
  bad_files: str = "stop"
  channels: int = 3

  def __post_init__(self):
    if self.size <= 0:
      raise ValueError(f"image_size must be > 0, got {self.size}")
    if self.recipe not in transforms.TRAIN_RECIPES:
      raise ValueError(f"unknown training crop {self.recipe!r}; known: "
                       f"{', '.join(transforms.TRAIN_RECIPES)}")
    if self.bad_files not in BAD_FILE_POLICIES:
      raise ValueError(f"bad_files must be one of {', '.join(BAD_FILE_POLICIES)}, got "
                       f"{self.bad_files!r}")

  def __len__(self) -> int:
    return len(self.index)

  @property
  def class_names(self) -> tuple[str, ...]:
    return self.index.class_names

  @property
  def num_classes(self) -> int:
    return len(self.index.class_names)

  @property
  def name(self) -> str:
    return self.index.name

  @property
  def split(self) -> str:
    return self.index.split

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return (self.size, self.size, self.channels)

  def example(self, i: int, *, train: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """Photo `i` as [size, size, channels] uint8: augmented from `rng` when training.

    Raises:
      ValueError: the file does not decode, named.
    """
    try:
      data = self.index.read(i)  # a ValueError from here names the file already
    except OSError as e:
      raise ValueError(f"cannot read image {self.index.describe(i)}: "
                       f"{e.strerror or e}") from None
    try:
      if train:
        return transforms.train_example(data, recipe=self.recipe, size=self.size, rng=rng,
                                        flip=self.flip, lighting=self.lighting,
                                        channels=self.channels, padding=self.padding)
      return transforms.eval_example(data, size=self.size, resize=self.eval_resize or None,
                                     channels=self.channels)
    except ValueError as e:
      raise ValueError(f"cannot read image {self.index.describe(i)}: {e}") from None

  def in_memory(self, indices: Sequence[int] | None = None) -> Split:
    """Photos `indices` (default all) as evaluation sees them, held in memory: for the
    commands that look at a few images (viz, notebooks)."""
    indices = range(len(self)) if indices is None else indices
    images = np.stack([self.example(int(i), train=False) for i in indices])
    return Split(images=images, labels=self.index.labels[np.asarray(indices, np.int64)],
                 class_names=self.class_names, name=self.name, split=self.split)


class _Positions:
  """Grain's source: record k is this process's k-th position of the epoch's batches."""

  def __init__(self, split: PhotoSplit, positions: np.ndarray, order: np.ndarray, *,
               train: bool, seed: int, epoch: int):
    self._split, self._positions, self._order = split, positions, order
    self._train, self._seed, self._epoch = train, seed, epoch

  def __len__(self) -> int:
    return len(self._positions)

  def __getitem__(self, k: int) -> dict:
    n = len(self._split)
    position = int(self._positions[k])
    mask = np.float32(position < n)
    for skipped in range(_MAX_SKIPPED_IN_A_ROW + 1):
      i = int(self._order[(position + skipped) % n])
      rng = order_lib.example_rng(self._seed, self._epoch, position)
      try:
        image = self._split.example(i, train=self._train, rng=rng)
      except ValueError as e:
        if self._split.bad_files == "stop":
          raise
        warnings.warn(f"{e}; skipped (bad_files='skip')", stacklevel=1)
        continue
      return {"image": image, "label": np.int32(self._split.index.labels[i]), "mask": mask}
    raise ValueError(f"{_MAX_SKIPPED_IN_A_ROW + 1} photos in a row of "
                     f"{self._split.name}/{self._split.split} do not decode, from "
                     f"{self._split.index.describe(int(self._order[position % n]))}")


def default_workers() -> int:
  """Decoding processes when the config leaves it to jcnn: one per core but one (the
  main process feeds the device), at least one."""
  return max(1, (os.cpu_count() or 1) - 1)


def batches(split: PhotoSplit, batch_size: int, *, train: bool, seed: int = 0,
            epoch: int = 0, start_batch: int = 0, workers: int = 0,
            mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
            rows: slice = slice(None), normalise: bool = True) -> Iterator[dict[str, np.ndarray]]:
  """One epoch of batches from batch `start_batch` on, as `jcnn.data.batches` gives them.

  Args:
    split: the photos.
    batch_size: B.
    train: shuffled, augmented, the last partial batch dropped; else the split's order,
      the last batch padded with mask 0.
    seed, epoch, start_batch: where in the run (jcnn.data.order).
    workers: Grain worker processes decoding photos (0: in this process).
    mean, std: per-channel statistics of pixels in [0, 1].
    rows: this process's rows of every batch (`jcnn.parallel.local_rows`).
    normalise: images as (x / 255 - mean) / std in float32; False: the uint8 pixels,
      a quarter of the bytes to the device, which normalises them (`normalise_on_device`).

  Yields:
    {"image": [b, size, size, C] float32 (or uint8), "label": [b] int32, "mask": [b] float32}.
  """
  n = len(split)
  num_batches = order_lib.batches_per_epoch(n, batch_size, train)
  order_lib.check_position(seed, epoch, start_batch, num_batches)
  if workers < 0:
    raise ValueError(f"data_workers must be >= 0, got {workers}")
  local = len(order_lib.positions(0, batch_size, rows))
  if start_batch == num_batches or not local:
    return
  # A batch past the epoch for each worker, never read: Grain's worker processes leave
  # the shared memory of the last element they produce to the resource tracker's "leaked"
  # warning at exit (grain 0.2.18), so each stops before its last.
  positions = np.concatenate([order_lib.positions(b, batch_size, rows)
                              for b in range(start_batch, num_batches + max(1, workers))])
  source = _Positions(split, positions, order_lib.epoch_order(n, seed, epoch, shuffle=train),
                      train=train, seed=seed, epoch=epoch)
  if not flags.FLAGS.is_parsed():
    # Grain reads some of its absl flags without a default when started outside absl's
    # app.run (a notebook, a test): their defaults it is, as Grain's own tests do.
    flags.FLAGS.mark_as_parsed()
  dataset = grain.MapDataset.source(source).batch(local).to_iter_dataset(
      grain.ReadOptions(num_threads=1, prefetch_buffer_size=2))
  if workers:  # each worker takes whole batches in turn: the order stays the batches'
    dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
  to_input = normaliser(split.image_shape, mean, std) if normalise else lambda x: x
  iterator = iter(dataset)
  try:
    for _ in range(num_batches - start_batch):
      # Copied out of the workers' shared memory, which is freed at once, not when the
      # device is done with the batch.
      batch = {key: np.array(value) for key, value in next(iterator).items()}
      yield {"image": to_input(batch["image"]), "label": batch["label"], "mask": batch["mask"]}
  finally:  # a run that stops mid-epoch: the workers end and their shared memory is freed
    getattr(iterator, "close", lambda: None)()
