"""Stages 4 to 6's bookkeeping: the SVMs and box regressors fitted on a checkpoint's
features (<workdir>/detector.npz, refitted only for another step or other settings),
and the test-time detector built from them."""
import pathlib

from jcnn import parallel, runs
from jcnn.detection import data as det_data
from jcnn.detection import proposal_cache, rcnn_detector
from jcnn.evaluators.rcnn import RCNNEvaluator
from jcnn.tasks.rcnn.features import FeatureFn
from jcnn.tasks.rcnn.fields import detector_options, detector_settings, search_settings
from jcnn.tasks.rcnn.proposals import proposals


def fitted(workdir, config, step: int) -> rcnn_detector.Detector | None:
  """The detector in <workdir>/detector.npz if it was fitted on `step` with the config's
  settings."""
  path = pathlib.Path(workdir) / runs.DETECTOR_FILE
  if not path.exists():
    return None
  detector = rcnn_detector.load(path)
  if detector.step != step or detector.settings != detector_settings(config):
    return None
  return detector


def fit(config, workdir, split: det_data.DetectionSplit, features: FeatureFn,
        variables: dict, step: int, num_classes: int) -> rcnn_detector.Detector:
  """Stages 4 and 5 on `split` (the training split): the SVMs and regressors on the
  features of its ground truth and cached proposals, saved in <workdir>/detector.npz
  (by the primary process)."""
  cache = proposals(config, workdir, split)
  per_image = features.of_split(variables, split, cache, with_ground_truth=True)
  detector = rcnn_detector.fit(per_image, split.records, num_classes,
                               detector_options(config), step=step,
                               settings=detector_settings(config))
  if parallel.is_primary():
    detector.save(pathlib.Path(workdir) / runs.DETECTOR_FILE)
  return detector


def detector_evaluator(config, workdir, detector: rcnn_detector.Detector,
                       features: FeatureFn, split: det_data.DetectionSplit,
                       name: str) -> RCNNEvaluator:
  """The test step over `split`: its cached proposals where the run has them, else
  selective search as it goes."""
  try:
    cache = proposals(config, workdir, split, compute=False)
  except FileNotFoundError:
    cache = None
  return RCNNEvaluator(
      lambda variables, image, boxes: features.of_image(variables, image, boxes),
      detector, split,
      (lambda i: cache[i]) if cache is not None
      else (lambda i: proposal_cache.search(split.image(i), search_settings(config))),
      name=name)
