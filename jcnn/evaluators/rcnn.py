"""VOC and COCO AP of an R-CNN: proposals, CNN features, SVMs, NMS and box regression
per image (`jcnn.detection.rcnn_detector`), scored as every detector is."""
from typing import Callable

import numpy as np
import tqdm

from jcnn.detection import rcnn_detector
from jcnn.evaluators.detection import DetectionEvaluator


class RCNNEvaluator(DetectionEvaluator):
  """Scores an R-CNN on `split` (the scoring is `DetectionEvaluator.score`).

  Args:
    features_fn: `(variables, image [H, W, C] uint8, boxes [K, 4]) -> RegionFeatures`.
    detector: the SVMs and box regressors.
    split: the DetectionSplit scored; its records are the ground truth.
    proposals_fn: `i -> [K_i, 4]` proposals of image i of the split.
    name: the split of its records in the metrics log.
  """

  def __init__(self, features_fn: Callable, detector: rcnn_detector.Detector, split,
               proposals_fn: Callable[[int], np.ndarray], *, name: str = "detect"):
    self.name = name
    self.split = split
    self._features = features_fn
    self._detector = detector
    self._proposals = proposals_fn

  def detections(self, variables: dict) -> list[dict]:
    """Per image, in split order: "boxes" [D, 4] xyxy in its pixels, "scores" (SVM
    margins), "labels"; an image without proposals has none."""
    found = []
    for i in tqdm.trange(len(self.split), unit="image", desc=f"detect {self.name}",
                         leave=False, disable=None, dynamic_ncols=True, mininterval=0.5):
      image = self.split.image(i)
      windows = self._features(variables, image, self._proposals(i))
      boxes, labels, scores = self._detector.detect(windows, image.shape[:2])
      found.append({"boxes": boxes, "scores": scores.astype(np.float32),
                    "labels": labels.astype(np.int32)})
    return found
