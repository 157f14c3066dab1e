"""PASCAL VOC and COCO average precision of a detector over a split.

The detector runs jitted over the mesh on padded batches; its detections are taken back
to each image's original pixels on the host and scored against the split's records, so
the numbers are those of the original annotations, whatever the network's input size.
"""
from typing import Callable, Iterable

import jax
import numpy as np
import tqdm
from jax.sharding import Mesh

from jcnn import data, detection, parallel


# What the host needs of each example besides its detections.
_PASSED = ("mask", "index", "scale")


class DetectionEvaluator:
  """Scores a detector on `split` through the batches `batches_fn()` yields.

  Args:
    apply_fn: `apply(variables, images, image_sizes, train=False) -> {"boxes" [B, D, 4],
      "scores" [B, D], "labels" [B, D], "valid" [B, D]}`, boxes in network-input pixels.
    batches_fn: returns a fresh iterable of evaluation batches of `split`
      (`jcnn.detection.data.batches(..., train=False)`): "image", "image_size",
      "scale", "index", "mask".
    split: the DetectionSplit the batches come from; its records are the ground truth
      ("difficult" boxes kept).
    mesh: the device mesh; batches are split along it.
    name: the split of its records in the metrics log.
  """

  def __init__(self, apply_fn: Callable, batches_fn: Callable[[], Iterable[dict]], split,
               *, mesh: Mesh, name: str = "eval"):
    self.name = name
    self.split = split
    self._batches = batches_fn
    self._mesh = mesh
    # The batch's own fields come back with the detections, gathered like them: with
    # several processes each loads only its rows, and every process gets all of them.
    self._apply = jax.jit(parallel.traced_on(
        mesh, lambda variables, batch: (apply_fn(variables, batch["image"],
                                                 batch["image_size"], train=False),
                                        {k: batch[k] for k in _PASSED})),
        in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
        out_shardings=parallel.replicated(mesh))

  def detections(self, variables: dict) -> list[dict]:
    """The valid detections of each image of the split, in its original pixels.

    Returns:
      One dict per image, in split order: "boxes" float32 [D, 4] xyxy (divided by the
      batch's scale, clipped to the image), "scores" float32 [D], "labels" int32 [D].
    """
    records = self.split.records
    found: list[dict | None] = [None] * len(records)
    # disable=None: the bar shows on a terminal only, so logs and --json stay clean.
    with tqdm.tqdm(total=len(records), unit="image", desc=f"detect {self.name}",
                   leave=False, disable=None, dynamic_ncols=True, mininterval=0.5) as bar:
      for out, batch in data.prefetch(self._detect(variables)):
        out, batch = jax.device_get((out, batch))
        for b in np.flatnonzero(batch["mask"]):
          index = int(batch["index"][b])
          found[index] = _to_original(out, b, float(batch["scale"][b]), records[index])
        bar.update(int(np.sum(batch["mask"])))
    missing = [i for i, d in enumerate(found) if d is None]
    if missing:
      raise ValueError(f"evaluation batches left out {len(missing)} of the {len(records)} "
                       f"images of the split (first: index {missing[0]})")
    return found

  def _detect(self, variables):
    """Yields (detections, the batch's _PASSED fields) on the mesh, the next batch made
    meanwhile."""
    for batch in self._batches():
      inputs = parallel.put_batch({k: batch[k] for k in ("image", "image_size", *_PASSED)},
                                  self._mesh)
      yield self._apply(variables, inputs)

  def run(self, variables: dict) -> dict[str, float]:
    """VOC and COCO AP of `variables`' detections (`score`)."""
    return self.score(self.detections(variables))

  def score(self, detections: list[dict]) -> dict[str, float]:
    """Metrics of per-image detections in original pixels (`detections`' output).

    Returns:
      "map50" (VOC2010+ area AP at IoU 0.5, mean over classes with boxes), "map50_11pt"
      (VOC2007's 11-point AP), "coco_ap" (AP@[.5:.95]), "coco_ap50", "coco_ap75",
      "coco_ap_small", "coco_ap_medium", "coco_ap_large" (-1 where the split has no
      box of that size), "ap50/<class>" and "ap50_11pt/<class>" for each class with
      non-difficult boxes (absent for the others: AP is undefined there, and a NaN
      would stop the trainer from checkpointing), and "num_images".
    """
    records = self.split.records
    names = tuple(self.split.class_names)
    area = detection.voc_evaluate(detections, records, len(names), legacy_pixel=False)
    points = detection.voc_evaluate(detections, records, len(names), use_07_metric=True,
                                    legacy_pixel=False)
    coco = detection.coco_evaluate(detections, [_difficult_as_crowd(r) for r in records],
                                   names)
    metrics = {"map50": area["mAP"], "map50_11pt": points["mAP"], "coco_ap": coco["AP"],
               "coco_ap50": coco["AP50"], "coco_ap75": coco["AP75"],
               "coco_ap_small": coco["APs"], "coco_ap_medium": coco["APm"],
               "coco_ap_large": coco["APl"]}
    for c in np.flatnonzero(area["num_positives"]):
      metrics[f"ap50/{names[c]}"] = float(area["ap"][c])
      metrics[f"ap50_11pt/{names[c]}"] = float(points["ap"][c])
    metrics["num_images"] = len(records)
    return metrics


def _to_original(out: dict, b: int, scale: float, record: dict) -> dict:
  """Example `b`'s valid detections, divided by `scale` and clipped to `record`'s image."""
  valid = np.asarray(out["valid"][b], bool)
  boxes = np.asarray(out["boxes"][b], np.float32)[valid] / np.float32(scale)
  limit = np.array([record["width"], record["height"]] * 2, np.float32)
  return {"boxes": np.clip(boxes, 0.0, limit),
          "scores": np.asarray(out["scores"][b], np.float32)[valid],
          "labels": np.asarray(out["labels"][b], np.int32)[valid]}


def _difficult_as_crowd(record: dict) -> dict:
  """COCO ignores "difficult" boxes as VOC does: as crowd regions (not missed, not FP)."""
  difficult = record.get("difficult")
  if difficult is None or "iscrowd" in record:
    return record
  return {**record, "iscrowd": np.asarray(difficult, bool)}
