"""From a run's config to the library objects both programs need.

The train and eval programs share this, so a checkpoint is always evaluated with the
model and preprocessing it was trained with. `dataset.json` in the workdir records
what the training split implied (image shape, class names, normalisation).
"""
import json
import pathlib
from typing import Callable, Iterator

import flax.linen as nn
import ml_collections
import numpy as np

from jcnn import data, models, precision

DATASET_INFO = "dataset.json"
CONFIG_FILE = "config.json"


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first field with an impossible value."""
  models.info(config.model)
  precision.compute_dtype(config.get("dtype", "float32"))
  checks = [
      ("batch_size", config.batch_size > 0, "must be positive"),
      ("eval_batch_size", config.eval_batch_size > 0, "must be positive"),
      ("num_epochs", config.num_epochs > 0 or config.num_train_steps > 0,
       "or num_train_steps must be positive"),
      ("learning_rate", config.learning_rate > 0, "must be positive"),
      ("weight_decay", config.weight_decay >= 0, "must be >= 0"),
      ("ema_decay", 0 <= config.ema_decay < 1, "must be in [0, 1)"),
      ("label_smoothing", 0 <= config.label_smoothing < 1, "must be in [0, 1)"),
      ("keep_checkpoints", config.keep_checkpoints > 0, "must be positive"),
      ("log_every_steps", config.log_every_steps > 0, "must be positive"),
      ("best_mode", config.best_mode in ("max", "min"), "must be 'max' or 'min'"),
      ("train_examples", config.get("train_examples", 0) >= 0, "must be >= 0 (0: all)"),
      ("eval_examples", config.get("eval_examples", 0) >= 0, "must be >= 0 (0: all)"),
  ]
  for field, ok, why in checks:
    if not ok:
      raise ValueError(f"config.{field}={config[field]!r} {why}")


def load_split(config: ml_collections.ConfigDict, split: str) -> data.Split:
  """Loads `split` of the config's dataset, cuts it to the configured size, resizes/pads.

  `train_examples` applies to `train_split` and `eval_examples` to `eval_split` (0 or
  absent, as in runs older than these fields: the whole split); cutting before the
  resize keeps an upsampled subset from costing the whole split's memory.
  """
  raw = data.load(config.dataset, split, data_dir=config.data_dir or None)
  if split == config.train_split:
    limit = config.get("train_examples", 0)
  else:
    limit = config.get("eval_examples", 0) if split == config.eval_split else 0
  if limit:
    raw = data.balanced_subset(raw, limit)
  return data.prepare(raw, resize=config.resize or None, pad=config.pad)


def dataset_info(config: ml_collections.ConfigDict, train_split: data.Split) -> dict:
  """What evaluation must know about the training data: shape, classes, statistics."""
  if config.dataset in data.DATASET_STATS:
    mean, std = data.DATASET_STATS[config.dataset]
  else:
    mean, std = data.channel_stats(train_split)
  return {"image_shape": list(train_split.images.shape[1:]),
          "class_names": list(train_split.class_names),
          "mean": np.atleast_1d(mean).tolist(), "std": np.atleast_1d(std).tolist()}


def build_model(config: ml_collections.ConfigDict, num_classes: int) -> nn.Module:
  return models.create(config.model, num_classes=num_classes, **config.model_kwargs)


def apply_fn(config: ml_collections.ConfigDict, model: nn.Module) -> Callable:
  """`model.apply`, computing in `config.dtype` (configs older than that field: float32)."""
  return precision.apply_in(config.get("dtype", "float32"), model.apply)


def batches(config: ml_collections.ConfigDict, split: data.Split, info: dict, *,
            train: bool, epoch: int = 0, start_batch: int = 0) -> Iterator[dict]:
  """Batches of `split` as the config asks: augmented and shuffled when training."""
  return data.batches(
      split, config.batch_size if train else config.eval_batch_size, train=train,
      seed=config.seed, epoch=epoch, start_batch=start_batch,
      crop_padding=config.crop_padding if train else 0, flip=config.flip and train,
      mean=np.asarray(info["mean"], np.float32), std=np.asarray(info["std"], np.float32))


def save_json(path: pathlib.Path, obj) -> None:
  """Writes JSON atomically, so an interrupted write never leaves half a file."""
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
  tmp.replace(path)


def load_run(workdir: str | pathlib.Path) -> tuple[ml_collections.ConfigDict, dict]:
  """The config and dataset info a training run left in `workdir`."""
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise FileNotFoundError(f"workdir {workdir} does not exist or is not a folder")
  try:
    config = ml_collections.ConfigDict(json.loads((workdir / CONFIG_FILE).read_text()))
    info = json.loads((workdir / DATASET_INFO).read_text())
  except FileNotFoundError as e:
    raise FileNotFoundError(f"{workdir} is not a jcnn training run: {e.filename} is missing"
                            ) from None
  except json.JSONDecodeError as e:
    raise ValueError(f"{workdir}: unreadable run files ({e})") from None
  return config, info
