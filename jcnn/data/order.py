"""Where a batch sits in a run, and the randomness it may draw.

Every batcher (classification, Faster R-CNN, R-CNN's windows) takes its epoch's example
order and each batch's generator from (seed, epoch[, batch index]) here, so any batch
can be recomputed on its own: a run resumed at batch k of an epoch sees exactly the
batches an uninterrupted run saw.
"""
import numpy as np


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  """Training batches per epoch: the last partial batch is dropped."""
  if batch_size <= 0:
    raise ValueError(f"batch_size must be > 0, got {batch_size}")
  if batch_size > num_examples:
    raise ValueError(f"batch_size {batch_size} exceeds the {num_examples} training examples; "
                     "an epoch would have no full batch")
  return num_examples // batch_size


def batches_per_epoch(num_examples: int, batch_size: int, train: bool) -> int:
  """Training drops the last partial batch; evaluation pads it (every example once)."""
  if train:
    return steps_per_epoch(num_examples, batch_size)
  if batch_size <= 0:
    raise ValueError(f"batch_size must be > 0, got {batch_size}")
  return -(-num_examples // batch_size)


def check_position(seed: int, epoch: int, start_batch: int, num_batches: int) -> None:
  """Refuses a negative seed or epoch, or a first batch outside the epoch."""
  if seed < 0 or epoch < 0:
    raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
  if not 0 <= start_batch <= num_batches:
    raise ValueError(f"start_batch must be in [0, {num_batches}], got {start_batch}")


def epoch_order(num_examples: int, seed: int, epoch: int, *, shuffle: bool) -> np.ndarray:
  """The examples of an epoch in the order they are batched: a permutation drawn from
  (seed, epoch) when `shuffle`, else the split's own order."""
  if not shuffle:
    return np.arange(num_examples)
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
  """The generator of batch `batch` of `epoch`: its augmentation or sampling."""
  return np.random.default_rng([seed, epoch, batch])


def example_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
  """The generator of the example at `position` of `epoch`'s order: its augmentation,
  the same whichever process or worker computes it."""
  return np.random.default_rng([seed, epoch, position, 1])  # 4 words: never a batch's


def positions(batch: int, batch_size: int, rows: slice = slice(None)) -> np.ndarray:
  """Positions in the epoch's order of `rows` of batch `batch` (past the end: padding)."""
  return np.arange(batch * batch_size, (batch + 1) * batch_size)[rows]
