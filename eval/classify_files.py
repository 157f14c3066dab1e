"""Classifies image files with a trained checkpoint: top-k classes per file."""
import pathlib

import jax
import numpy as np
from PIL import Image

from eval import score
from jcnn import data, runs, tasks
from jcnn.data import transforms
from jcnn.data.images import UNREADABLE


def read_images(paths: list[str], size: tuple[int, int], channels: int) -> np.ndarray:
  """Decodes and resizes image files to `[N, H, W, channels]` uint8."""
  mode = "L" if channels == 1 else "RGB"
  images = []
  for path in paths:
    try:
      with Image.open(path) as image:
        image = image.convert(mode).resize(size[::-1], Image.BILINEAR)
        images.append(np.asarray(image, np.uint8).reshape(*size, channels))
    except UNREADABLE as e:
      raise ValueError(f"cannot read image {path}: {e}") from None
  return np.stack(images)


def training_size(config, info: dict) -> tuple[int, int]:
  """The size the training images had before padding (`resize`, or the dataset's own)."""
  height, width, _ = info["image_shape"]
  pad = config.pad
  return (config.resize,) * 2 if config.resize else (height - 2 * pad, width - 2 * pad)


def files_split(run: runs.Run, paths: list[str], split: str) -> data.Split:
  """Image files as a split of the run's input: resized to the training size, padded,
  with placeholder labels (normalisation is the batches' job)."""
  info = run.dataset_info
  if run.config.get("image_size", 0):  # streamed photos: evaluation's resize and centre crop
    images = np.stack([_eval_example(path, run.config) for path in paths])
    return data.Split(images=images, labels=np.zeros(len(images), np.int32),
                      class_names=tuple(info["class_names"]), name="files", split=split)
  images = read_images(paths, training_size(run.config, info), info["image_shape"][2])
  return data.prepare(
      data.Split(images=images, labels=np.zeros(len(images), np.int32),
                 class_names=tuple(info["class_names"]), name="files", split=split),
      pad=run.config.pad)


def _eval_example(path: str, config) -> np.ndarray:
  try:
    return transforms.eval_example(pathlib.Path(path).read_bytes(), size=config.image_size,
                                   resize=config.eval_resize or None)
  except (OSError, ValueError) as e:
    raise ValueError(f"cannot read image {path}: {e}") from None


def predict(workdir: str | pathlib.Path, paths: list[str], step: int | None = None,
            top_k: int = 5) -> list[dict]:
  """Top-k classes and probabilities for each image file.

  Images are brought to the size the training data had before padding (`resize`, or
  the dataset's own size), then padded and normalised exactly as in training.
  """
  run = score.open_run(workdir, "classification", "predict")
  info = run.dataset_info
  # A batch no larger than the files: the run's eval_batch_size (500 for an imported
  # ImageNet network) would run the model on padding for one photo.
  config = run.config.copy_and_resolve_references()
  config.eval_batch_size = max(1, min(config.eval_batch_size, len(paths)))
  task = tasks.get(config.task)
  restored = task.restore(run, step)
  class_names = tuple(info["class_names"])
  split = files_split(run, paths, "predict")
  predictions = []
  for batch in task.batches(config, info, split, train=False):
    logits = restored.apply(restored.variables, batch["image"], train=False)
    probs = np.asarray(jax.nn.softmax(logits))
    predictions.extend(probs[batch["mask"] > 0])
  k = min(top_k, len(class_names))
  results = []
  for path, probs in zip(paths, predictions):
    top = np.argsort(-probs)[:k]
    results.append({"file": str(path), "top": [
        {"label": int(i), "class": class_names[i], "prob": float(probs[i])} for i in top]})
  return results
