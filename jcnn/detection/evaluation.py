"""Detection metrics: PASCAL VOC average precision and COCO AP (through pycocotools).

Both take the same inputs, aligned lists over images:
  detections:    dicts with "boxes" [D, 4] xyxy, "scores" [D] and "labels" [D] (int);
  ground_truths: records as `annotations` makes them ("boxes" [N, 4] xyxy, "labels" [N],
                 optional "difficult" [N] bool, and "width"/"height" for COCO).
"""
import contextlib
import io
from collections.abc import Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
              "ARm", "ARl")


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool = False) -> float:
  """Area under a precision/recall curve, as the PASCAL VOC devkit computes it.

  Args:
    recall: [D] cumulative recall over detections sorted by decreasing score.
    precision: [D] cumulative precision, same order.
    use_07_metric: VOC2007's 11-point interpolated AP (mean over recall thresholds
      0, 0.1, ..., 1 of the best precision at recall >= threshold); otherwise VOC2010+'s
      area under the curve with precision made monotonically decreasing.

  Returns:
    AP in [0, 1].
  """
  recall = np.asarray(recall, np.float64)
  precision = np.asarray(precision, np.float64)
  if recall.shape != precision.shape or recall.ndim != 1:
    raise ValueError(f"recall and precision must be 1-D of one length, got {recall.shape} "
                     f"and {precision.shape}")
  if use_07_metric:
    points = [precision[recall >= t].max(initial=0.0) for t in np.linspace(0.0, 1.0, 11)]
    return float(np.mean(points))
  mrec = np.concatenate([[0.0], recall, [1.0]])
  mpre = np.concatenate([[0.0], precision, [0.0]])
  mpre = np.maximum.accumulate(mpre[::-1])[::-1]
  steps = np.flatnonzero(mrec[1:] != mrec[:-1])
  return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def voc_evaluate(detections: Sequence[dict], ground_truths: Sequence[dict],
                 num_classes: int | None = None, iou_threshold: float = 0.5,
                 use_07_metric: bool = False, legacy_pixel: bool = True) -> dict:
  """PASCAL VOC detection AP per class and its mean, as the devkit's VOCevaldet.m.

  Per class, detections are taken in decreasing score (ties in input order: the devkit
  sorts stably); each matches the ground-truth box of its image it overlaps most, if
  that IoU is >= `iou_threshold`. A match to an unmatched box is a true positive, to an
  already matched one a false positive (a duplicate), and to a "difficult" box neither.
  Difficult boxes do not count towards recall. (py-faster-rcnn's voc_eval.py and
  Detectron2 require IoU > threshold, which differs only at exactly 0.5.)

  Args:
    detections: per image, "boxes" [D, 4] xyxy, "scores" [D], "labels" [D].
    ground_truths: per image, "boxes" [N, 4], "labels" [N], optional "difficult" [N].
    num_classes: default: len(class_names) of the first record, else the largest label
      + 1.
    iou_threshold: 0.5 for PASCAL VOC.
    use_07_metric: VOC2007's 11-point AP (the metric of R-CNN, SPP-net and Faster
      R-CNN's VOC2007 tables); otherwise VOC2010+'s area under the curve.
    legacy_pixel: the devkit's inclusive-pixel IoU (widths x2 - x1 + 1).

  Returns:
    {"ap": float64 [num_classes] (NaN for classes without non-difficult boxes),
     "mAP": the mean over classes with boxes, "num_positives": int [num_classes]}.
  """
  if len(detections) != len(ground_truths):
    raise ValueError(f"need one detections dict per image: {len(detections)} detections "
                     f"for {len(ground_truths)} images")
  if num_classes is None:
    names = ground_truths[0].get("class_names") if ground_truths else None
    labels = [np.asarray(g["labels"]).max(initial=-1) for g in ground_truths]
    labels += [np.asarray(d["labels"]).max(initial=-1) for d in detections]
    num_classes = len(names) if names else int(max(labels, default=-1)) + 1
  aps = np.full(num_classes, np.nan)
  positives = np.zeros(num_classes, np.int64)
  for c in range(num_classes):
    aps[c], positives[c] = _voc_class_ap(detections, ground_truths, c, iou_threshold,
                                         use_07_metric, legacy_pixel)
  valid = positives > 0
  return {"ap": aps, "mAP": float(np.mean(aps[valid])) if valid.any() else float("nan"),
          "num_positives": positives}


def _voc_class_ap(detections, ground_truths, c, iou_threshold, use_07_metric, legacy_pixel):
  """(AP, number of non-difficult boxes) of class c."""
  recall, precision, positives = voc_curve(detections, ground_truths, c, iou_threshold,
                                           legacy_pixel)
  if positives == 0:
    return float("nan"), 0
  return voc_ap(recall, precision, use_07_metric), positives


def voc_curve(detections: Sequence[dict], ground_truths: Sequence[dict], c: int,
              iou_threshold: float = 0.5,
              legacy_pixel: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
  """Class c's precision-recall curve, by the matching rules of `voc_evaluate`.

  Returns:
    (recall, precision, positives): one point per detection of class c in decreasing
    score (detections on difficult boxes are skipped); positives = non-difficult boxes.
  """
  one = 1.0 if legacy_pixel else 0.0
  gt_boxes, gt_difficult, matched = [], [], []
  for g in ground_truths:
    mine = np.asarray(g["labels"]) == c
    gt_boxes.append(np.asarray(g["boxes"], np.float64).reshape(-1, 4)[mine])
    difficult = g.get("difficult")
    if difficult is None:
      difficult = np.zeros(len(mine), bool)
    gt_difficult.append(np.asarray(difficult, bool)[mine])
    matched.append(np.zeros(int(mine.sum()), bool))
  positives = int(sum((~d).sum() for d in gt_difficult))
  image_ids, scores, boxes = [], [], []
  for i, d in enumerate(detections):
    mine = np.asarray(d["labels"]) == c
    image_ids += [i] * int(mine.sum())
    scores.append(np.asarray(d["scores"], np.float64).reshape(-1)[mine])
    boxes.append(np.asarray(d["boxes"], np.float64).reshape(-1, 4)[mine])
  if positives == 0:
    return np.zeros(0), np.zeros(0), 0
  scores, boxes = np.concatenate(scores), np.concatenate(boxes)
  order = np.argsort(-scores, kind="stable")
  tp = np.zeros(len(order))
  fp = np.zeros(len(order))
  for rank, k in enumerate(order):
    image, box = image_ids[k], boxes[k]
    gts = gt_boxes[image]
    if len(gts) == 0:
      fp[rank] = 1
      continue
    iw = np.minimum(gts[:, 2], box[2]) - np.maximum(gts[:, 0], box[0]) + one
    ih = np.minimum(gts[:, 3], box[3]) - np.maximum(gts[:, 1], box[1]) + one
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    union = ((box[2] - box[0] + one) * (box[3] - box[1] + one)
             + (gts[:, 2] - gts[:, 0] + one) * (gts[:, 3] - gts[:, 1] + one) - inter)
    overlaps = inter / union
    best = int(np.argmax(overlaps))
    if overlaps[best] >= iou_threshold:
      if gt_difficult[image][best]:
        continue
      if matched[image][best]:
        fp[rank] = 1
      else:
        tp[rank] = 1
        matched[image][best] = True
    else:
      fp[rank] = 1
  tp, fp = np.cumsum(tp), np.cumsum(fp)
  recall = tp / positives
  precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
  # Skipped (difficult) detections leave no point on the curve.
  point = (np.diff(tp, prepend=0) + np.diff(fp, prepend=0)) > 0
  return recall[point], precision[point], positives


def coco_evaluate(detections: Sequence[dict], ground_truths: Sequence[dict],
                  class_names: Sequence[str] | None = None) -> dict:
  """COCO box AP/AR (the 12 numbers of COCOeval.summarize) computed by pycocotools.

  The ground truth and detections are built as in-memory COCO objects (image ids 1..N,
  category ids label + 1, annotation ids from 1, area = box area, iscrowd from the
  records' "iscrowd" when present), so nothing is written to disk.

  Args:
    detections: per image, "boxes" [D, 4] xyxy, "scores" [D], "labels" [D]. COCO keeps
      the 100 best per image (maxDets).
    ground_truths: per image, "boxes" [N, 4] xyxy, "labels" [N], "width", "height".
    class_names: default: the records' "class_names", else "0", "1", ...

  Returns:
    {"AP": AP@[.5:.95], "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100",
     "ARs", "ARm", "ARl"}; -1 where a statistic has no ground truth (pycocotools' value).
  """
  if len(detections) != len(ground_truths):
    raise ValueError(f"need one detections dict per image: {len(detections)} detections "
                     f"for {len(ground_truths)} images")
  if class_names is None:
    class_names = ground_truths[0].get("class_names") if ground_truths else None
  if class_names is None:
    top = max([int(np.max(g["labels"], initial=-1)) for g in ground_truths], default=-1)
    class_names = [str(c) for c in range(top + 1)]
  images = [{"id": i + 1, "width": int(g["width"]), "height": int(g["height"])}
            for i, g in enumerate(ground_truths)]
  categories = [{"id": c + 1, "name": name} for c, name in enumerate(class_names)]
  annotations = []
  for i, g in enumerate(ground_truths):
    crowd = g.get("iscrowd", np.zeros(len(g["labels"]), bool))
    for box, label, is_crowd in zip(_xywh(g["boxes"]), np.asarray(g["labels"]), crowd):
      annotations.append({"id": len(annotations) + 1, "image_id": i + 1,
                          "category_id": int(label) + 1, "bbox": box,
                          "area": box[2] * box[3], "iscrowd": int(is_crowd)})
  results = []
  for i, d in enumerate(detections):
    for box, score, label in zip(_xywh(d["boxes"]), np.asarray(d["scores"]),
                                 np.asarray(d["labels"])):
      results.append({"image_id": i + 1, "category_id": int(label) + 1, "bbox": box,
                      "score": float(score), "area": box[2] * box[3], "iscrowd": 0,
                      "id": len(results) + 1})
  ground = _coco(images, categories, annotations)
  found = _coco(images, categories, results)
  evaluator = COCOeval(ground, found, "bbox")
  with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
  return dict(zip(COCO_STATS, (float(s) for s in evaluator.stats)))


def _xywh(boxes) -> list[list[float]]:
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).tolist()


def _coco(images, categories, annotations):
  """An in-memory COCO object (COCO.loadRes would reject an empty detection list)."""
  coco = COCO()
  coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
  with contextlib.redirect_stdout(io.StringIO()):
    coco.createIndex()
  return coco
