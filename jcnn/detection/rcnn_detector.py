"""R-CNN's stages after fine-tuning: one linear SVM per class on the CNN's features and
one ridge box regressor per class, fitted on a split, saved in the run, and applied to
an image's proposals (rbg's rcnn_train, rcnn_train_bbox_regressor and rcnn_test).

  detector = rcnn_detector.fit(per_image, split.records, num_classes, options, step=s)
  detector.save(path);  detector = rcnn_detector.load(path)
  boxes, labels, scores = detector.detect(image_features, image_size)

The CNN that gives the features is the caller's (`jcnn.tasks.rcnn`): this module sees
arrays only.
"""
import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence

import numpy as np
import tqdm

from jcnn.data import npz
from jcnn.detection import rcnn
from jcnn.detection.box_coding import decode
from jcnn.detection.boxes import box_iou_host, clip_boxes


@dataclasses.dataclass(frozen=True)
class RegionFeatures:
  """One image's windows and their features.

  Attributes:
    boxes: [K, 4] xyxy; when fitting, the image's ground-truth boxes come first, in
      their record's order, then its proposals.
    features: [K, D], what the SVMs read (fc7 in the paper).
    regression: [K, Dr], what the box regressors read (pool5 in the paper).
  """
  boxes: np.ndarray
  features: np.ndarray
  regression: np.ndarray


@dataclasses.dataclass(frozen=True)
class DetectorOptions:
  """The constants of the SVMs, the regressors and the test step (the paper's)."""
  svm: rcnn.SVMOptions = rcnn.SVMOptions()
  negative_iou: float = 0.3      # SVM negatives: IoU below this with every box of the class
  regression_iou: float = 0.6    # regressors learn from windows above this
  regression_alpha: float = 1000.0
  nms_threshold: float = 0.3
  max_detections: int = 100


_ARRAYS = ("svm_weights", "svm_bias", "regression_weights", "regression_bias",
           "has_regressor")


@dataclasses.dataclass
class Detector:
  """The SVMs and box regressors of one fine-tuned CNN.

  Attributes:
    step: the checkpoint whose features they were fitted on.
    settings: what they were fitted with (JSON); a detector of other settings is refused.
    feature_scale, regression_scale: the factors that give each kind of feature an
      average norm of 20 (rbg's rcnn_feature_stats), applied before every dot product.
    svm_weights [N, D], svm_bias [N]: one SVM per class.
    regression_weights [N, Dr, 4], regression_bias [N, 4]: one ridge regressor per class.
    has_regressor [N]: False for a class without a window above regression_iou (its
      boxes are kept as proposed).
  """
  step: int
  settings: str
  feature_scale: float
  regression_scale: float
  svm_weights: np.ndarray
  svm_bias: np.ndarray
  regression_weights: np.ndarray
  regression_bias: np.ndarray
  has_regressor: np.ndarray
  nms_threshold: float = 0.3
  max_detections: int = 100

  def scores(self, features: np.ndarray) -> np.ndarray:
    """Every class's SVM score of every window [K, N]."""
    if not len(features):
      return np.zeros((0, len(self.svm_bias)), np.float32)
    x = np.asarray(features, np.float32).reshape(len(features), -1) * self.feature_scale
    return x @ self.svm_weights.T + self.svm_bias

  def detect(self, found: RegionFeatures,
             image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-CNN's test step on one image's proposals: SVM scores, NMS within each class,
    each kept box moved by its class's regressor and clipped to `image_size` (h, w).

    Returns:
      boxes [D, 4], 0-based labels [D], scores [D], best first (D = 0 when the image
      has no proposals).
    """
    index, labels, scores = rcnn.detections(
        found.boxes, self.scores(found.features), self.nms_threshold, self.max_detections)
    boxes = np.asarray(found.boxes, np.float32).reshape(-1, 4)[index]
    if len(index):
      x = np.asarray(found.regression, np.float32)[index] * self.regression_scale
      deltas = np.einsum("kd,kdj->kj", x, self.regression_weights[labels])
      moved = np.asarray(decode(deltas + self.regression_bias[labels], boxes))
      boxes = np.where(self.has_regressor[labels][:, None], moved, boxes)
    return np.asarray(clip_boxes(boxes, image_size), np.float32), labels, scores

  def save(self, path: str | os.PathLike) -> None:
    """Writes the detector to `path` atomically: a crash leaves the old file or none."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"step": self.step, "settings": self.settings,
                       "feature_scale": self.feature_scale,
                       "regression_scale": self.regression_scale,
                       "nms_threshold": self.nms_threshold,
                       "max_detections": self.max_detections})
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, meta=np.array(meta), **{k: getattr(self, k) for k in _ARRAYS})
    os.replace(partial, path)


def load(path: str | os.PathLike) -> Detector:
  """The detector saved at `path`; ValueError naming the file when it is unreadable."""
  try:
    with np.load(path, allow_pickle=False) as f:
      meta = json.loads(str(f["meta"]))
      arrays = {k: np.asarray(f[k]) for k in _ARRAYS}
  except (*npz.UNREADABLE, RecursionError) as e:  # RecursionError: a too deeply nested meta
    raise ValueError(f"cannot read the R-CNN detector {path}: {e}; delete it to fit it "
                     "again") from None
  return Detector(**meta, **arrays)


def fit(per_image: Sequence[RegionFeatures], records: Sequence[dict], num_classes: int,
        options: DetectorOptions = DetectorOptions(), *, step: int = 0,
        settings: str = "") -> Detector:
  """Fits the SVMs (hard-negative mining, `rcnn.train_svm`) and the box regressors
  (`rcnn.fit_box_regressor`) of every class on a split's windows.

  Positives of class c are its ground-truth boxes; its negatives in an image are the
  windows (proposals and other classes' boxes) with IoU below `negative_iou` to every
  box of class c (rbg's rcnn_train). Regressors learn from windows with IoU above
  `regression_iou` to a box, towards that box (Appendix C).
  """
  if len(per_image) != len(records):
    raise ValueError(f"features of {len(per_image)} images for {len(records)} records")
  gts = [np.asarray(r["boxes"], np.float32).reshape(-1, 4) for r in records]
  gt_labels = [np.asarray(r["labels"], np.int64).reshape(-1) for r in records]
  for i, (found, gt) in enumerate(zip(per_image, gts)):
    if len(found.boxes) < len(gt) or not np.allclose(found.boxes[:len(gt)], gt):
      raise ValueError(f"image {i}'s windows must start with its ground-truth boxes")
  feature_scale = rcnn.feature_scale(np.concatenate([f.features for f in per_image]))
  regression_scale = rcnn.feature_scale(np.concatenate([f.regression for f in per_image]))
  # IoU of every window with every ground-truth box of its image.
  ious = [box_iou_host(f.boxes, gt) if len(gt) else np.zeros((len(f.boxes), 0))
          for f, gt in zip(per_image, gts)]

  weights, biases = [], []
  for c in tqdm.trange(num_classes, desc="SVMs", unit="class", leave=False, disable=None):
    positives = [f.features[:len(gt)][labels == c]
                 for f, gt, labels in zip(per_image, gts, gt_labels)]
    positives = np.concatenate(positives) * feature_scale
    if not len(positives):
      raise ValueError(f"class {c} has no ground-truth box in the training split: its "
                       "SVM has no positives")

    def negatives(c=c):
      for f, iou, labels in zip(per_image, ious, gt_labels):
        overlap = iou[:, labels == c].max(axis=1) if (labels == c).any() else np.zeros(len(iou))
        yield f.features[overlap < options.negative_iou] * feature_scale

    model = rcnn.train_svm(positives, negatives(), options.svm)
    weights.append(model.weights)
    biases.append(model.bias)

  dims = per_image[0].regression.reshape(len(per_image[0].boxes), -1).shape[1]
  reg_w = np.zeros((num_classes, dims, 4), np.float32)
  reg_b = np.zeros((num_classes, 4), np.float32)
  has = np.zeros(num_classes, bool)
  examples = [rcnn.regression_examples(f.boxes, gt, labels, options.regression_iou)
              for f, gt, labels in zip(per_image, gts, gt_labels)]
  for c in range(num_classes):
    parts = [(f.regression[keep][cls == c], f.boxes[keep][cls == c], matched[cls == c])
             for f, (keep, matched, cls) in zip(per_image, examples)]
    x, boxes, targets = (np.concatenate(p) for p in zip(*parts))
    if len(x):
      regressor = rcnn.fit_box_regressor(x * regression_scale, boxes, targets,
                                         options.regression_alpha)
      reg_w[c], reg_b[c], has[c] = regressor.weights, regressor.bias, True
  return Detector(step=step, settings=settings, feature_scale=feature_scale,
                  regression_scale=regression_scale,
                  svm_weights=np.stack(weights).astype(np.float32),
                  svm_bias=np.asarray(biases, np.float32), regression_weights=reg_w,
                  regression_bias=reg_b, has_regressor=has,
                  nms_threshold=options.nms_threshold,
                  max_detections=options.max_detections)
