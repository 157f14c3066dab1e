"""Detects objects in image files with a trained detection run; draws what it finds."""
import pathlib

import numpy as np
from PIL import Image

from eval import outputs, score
from jcnn import detection
from jcnn.data.images import UNREADABLE


def read_image(path: str | pathlib.Path, channels: int) -> np.ndarray:
  """Decodes an image file to uint8 [H, W, channels] at its own size."""
  try:
    with Image.open(path) as image:
      array = np.asarray(image.convert("L" if channels == 1 else "RGB"), np.uint8)
  except UNREADABLE as e:
    raise ValueError(f"cannot read image {path}: {e}") from None
  return array.reshape(*array.shape[:2], channels)


def drawing_paths(paths: list[str], output: str | pathlib.Path,
                  workdir: str | pathlib.Path) -> list[pathlib.Path]:
  """`output/<stem>.png` per image; refuses a folder inside the run and clashing stems."""
  output = outputs.outside_run(output, workdir)
  targets, seen = [], {}
  for path in paths:
    stem = pathlib.Path(path).stem
    if stem in seen:
      raise ValueError(f"images {seen[stem]} and {path} would both be drawn to "
                       f"{output / (stem + '.png')}; rename one")
    seen[stem] = path
    targets.append(output / f"{stem}.png")
  return targets


def predict(workdir: str | pathlib.Path, paths: list[str], output: str | pathlib.Path,
            step: int | None = None, score_threshold: float = 0.5) -> list[dict]:
  """Detections above `score_threshold` per image file, each drawn to `output/<stem>.png`.

  Images go through the run's own evaluation input (its channels, its resize-and-pad
  rule, its normalisation), so a file is seen exactly as a test image was.

  Returns:
    Per file: {"file", "boxes" (xyxy in the file's pixels), "scores", "labels",
    "classes"}, highest score first; and "drawing", the PNG written.
  """
  from jcnn import tasks
  from jcnn.detection import data as det_data
  run = score.open_run(workdir, tasks.detectors(), "predict")
  config, info = run.config, run.dataset_info
  targets = drawing_paths(paths, output, run.workdir)
  channels = int(info["channels"])
  images = [read_image(path, channels) for path in paths]
  class_names = tuple(info["class_names"])
  split = det_data.DetectionSplit(
      class_names=class_names, records=[_record(image, path, class_names)
                                        for image, path in zip(images, paths)],
      channels=channels)
  task = tasks.get(config.task)
  restored = task.restore(run, step)
  evaluator = task.evaluator(run, restored, split, "predict")
  found = evaluator.detections(restored.variables)
  pathlib.Path(output).mkdir(parents=True, exist_ok=True)
  results = []
  for path, image, target, d in zip(paths, images, targets, found):
    order = np.argsort(-d["scores"], kind="stable")
    order = order[d["scores"][order] >= score_threshold]
    boxes, scores, labels = d["boxes"][order], d["scores"][order], d["labels"][order]
    detection.draw_detections(image, boxes, labels, scores, class_names).save(target)
    results.append({"file": str(path), "boxes": boxes.tolist(), "scores": scores.tolist(),
                    "labels": labels.tolist(), "classes": [class_names[c] for c in labels],
                    "drawing": str(target)})
  return results


def _record(image: np.ndarray, path: str, class_names: tuple[str, ...]) -> dict:
  """An unannotated record holding the decoded image (the annotations' record format)."""
  return {"image": image, "image_path": str(path), "width": image.shape[1],
          "height": image.shape[0], "boxes": np.zeros((0, 4), np.float32),
          "labels": np.zeros(0, np.int32), "difficult": np.zeros(0, bool),
          "class_names": class_names}
