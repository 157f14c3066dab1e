"""The config of R-CNN and SPP-net: the fields they share, their checks, and what the
stages read of them (selective search's settings, the SVMs' and regressors' options)."""
import dataclasses
import json

import ml_collections

from jcnn import models
from jcnn.detection import data as det_data
from jcnn.detection import rcnn, rcnn_detector
from jcnn.tasks import base, detection


def shared_fields() -> ml_collections.ConfigDict:
  """The fields R-CNN and SPP-net share: data, proposals, sampling, SVMs, regressors."""
  c = ml_collections.ConfigDict()
  c.dataset = "mnist_detection"  # jcnn.detection.data.DATASETS
  c.canvas = ml_collections.ConfigDict(dataclasses.asdict(det_data.CanvasConfig()))
  c.best_metric = "top1"         # of the eval windows (IoU >= 0.5: class, else background)
  # Stage 1: selective search (jcnn.detection.selective_search's keywords).
  c.search = ml_collections.ConfigDict({"strategy": "fast", "min_box_size": 8})
  c.max_proposals = 2000
  c.proposals_from = ""          # a run whose proposals of the same images and settings
                                 # are copied instead of searched again
  # Stage 2.
  c.init_from = ""               # a classification run of config.model
  # Stage 3: fine-tuning windows.
  c.foreground_iou = 0.5
  c.batch_size = 128             # windows per batch ...
  c.positives = 32               # ... of which foreground
  c.eval_batch_size = 128
  c.eval_batches = 20            # fine-tuning's evaluation: this many batches of eval windows
  c.label_smoothing = 0.0
  # Stages 4 and 5: SVMs and box regressors (rbg's rcnn_train defaults).
  c.svm_C = 1e-3
  c.svm_positive_weight = 2.0
  c.negative_iou = 0.3
  c.regression_iou = 0.6
  c.regression_alpha = 1000.0
  # Stage 6.
  c.nms_threshold = 0.3
  c.max_detections = 100
  c.feature_batch_size = 512     # windows per CNN call when computing features
  return c


def validate_shared(config: ml_collections.ConfigDict) -> None:
  """Refuses a bad value of a `shared_fields` field, naming it."""
  models.info(config.model)
  detection.validate_data(config)
  unit = lambda v: 0 <= v <= 1
  base.check_fields(config, [
      ("max_proposals", config.max_proposals > 0, "must be positive"),
      ("foreground_iou", unit(config.foreground_iou), "must be in [0, 1]"),
      ("positives", 0 < config.positives <= config.batch_size,
       "must be in [1, config.batch_size]"),
      ("eval_batches", config.eval_batches > 0, "must be positive"),
      ("negative_iou", unit(config.negative_iou), "must be in [0, 1]"),
      ("regression_iou", unit(config.regression_iou), "must be in [0, 1]"),
      ("svm_C", config.svm_C > 0, "must be positive"),
      ("regression_alpha", config.regression_alpha > 0, "must be positive"),
      ("nms_threshold", unit(config.nms_threshold), "must be in [0, 1]"),
      ("max_detections", config.max_detections > 0, "must be positive"),
      ("feature_batch_size", config.feature_batch_size > 0, "must be positive"),
  ])


def search_settings(config) -> dict:
  return dict(config.search.to_dict(), max_proposals=config.max_proposals)


def detector_options(config) -> rcnn_detector.DetectorOptions:
  return rcnn_detector.DetectorOptions(
      svm=rcnn.SVMOptions(C=config.svm_C, positive_weight=config.svm_positive_weight),
      negative_iou=config.negative_iou, regression_iou=config.regression_iou,
      regression_alpha=config.regression_alpha, nms_threshold=config.nms_threshold,
      max_detections=config.max_detections)


def detector_settings(config) -> str:
  """What the SVMs and regressors depend on besides the checkpoint."""
  keys = ("feature", "regression_feature", "svm_C", "svm_positive_weight", "negative_iou",
          "regression_iou", "regression_alpha", "nms_threshold", "max_detections",
          "train_examples")
  return json.dumps({k: config.get(k) for k in keys}, sort_keys=True)
