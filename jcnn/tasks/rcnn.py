"""R-CNN (Girshick et al. 2014) as one staged run, each stage's output kept in the run
folder so a rerun skips what is done and a killed run resumes in the stage it was in:

1. proposals: selective search on every image of the train and eval splits, cached in
   <workdir>/proposals/ (`jcnn.detection.proposal_cache`, resumed image by image);
   their recall at IoU 0.5 in <workdir>/proposals/recall.json;
2. supervised pre-training: `config.init_from`, a classification run of the same model
   and input size (every layer but the classifier's last is copied);
3. fine-tuning on warped windows through the shared loop: N + 1 classes, IoU >= 0.5
   foreground, batches of 128 with 32 foreground (the checkpoints; evaluated by the
   windows' top-1);
4. and 5. one linear SVM per class on `config.feature` (fc7's place) with hard-negative
   mining, and one ridge box regressor per class on `config.regression_feature` (pool5's),
   fitted on the final checkpoint (`Task.finish`) into <workdir>/detector.npz;
6. test: every proposal scored by every SVM, NMS 0.3 per class, the kept boxes regressed
   (`python -m eval detect`, `python -m eval predict`, as for Faster R-CNN).
"""
import dataclasses
import json
import os
import pathlib
import shutil
from typing import Callable

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import tqdm
from jax.sharding import Mesh

from jcnn import models, parallel, runs
from jcnn.data.pipeline import normaliser
from jcnn.detection import data as det_data
from jcnn.detection import proposal_cache, rcnn, rcnn_detector
from jcnn.detection.data import regions
from jcnn.evaluators.classification import ClassificationEvaluator
from jcnn.evaluators.rcnn import RCNNEvaluator
from jcnn.models.features import extract_features
from jcnn.tasks import base, classification, detection, pretrained_run


class RCNN(base.Task):
  """R-CNN's stages. A variant of the pipeline (SPP-net) overrides, besides `base.Task`'s
  methods, these hooks of its own: `window_batches` (fine-tuning batches),
  `feature_fn` (the SVMs' and regressors' features of windows), `dataset_info` (the
  CNN's input), `pretrained` and `init_from` (what `config.init_from` gives)."""
  name = "rcnn"
  detects = True
  identity = ("canvas", "search", "max_proposals", "warp_size", "context", "square",
              "foreground_iou", "positives")

  def fields(self) -> ml_collections.ConfigDict:
    c = shared_fields()
    c.model = "lenet5"             # a zoo classifier taking warp_size² inputs
    # Stage 3: windows, warped as the paper's.
    c.warp_size = 32               # crop side (227 in the paper; the model's input side)
    c.context = 2                  # pixels of context at the crop's scale (16 of 227)
    c.square = False               # True: the tightest square with context (isotropic)
    c.feature = "f6_out"           # the SVMs' features (fc7 in the paper)
    c.regression_feature = "s4"    # the regressors' features (pool5 in the paper)
    return c

  def validate(self, config: ml_collections.ConfigDict) -> None:
    validate_shared(config)
    base.check_fields(config, [
        ("warp_size", config.warp_size > 0, "must be positive"),
        ("context", 0 <= 2 * config.context < config.warp_size,
         "must be in [0, config.warp_size / 2)"),
    ])

  def model(self, config: ml_collections.ConfigDict, dataset_info: dict) -> nn.Module:
    # The classes and background.
    return models.create(config.model, num_classes=len(dataset_info["class_names"]) + 1,
                         **config.model_kwargs)

  def training(self, config: ml_collections.ConfigDict, mesh: Mesh,
               run: runs.Run | None = None) -> base.Training:
    if run is None:
      raise ValueError("an R-CNN run keeps its proposals in its run folder: train it "
                       "with jcnn.training.train_and_evaluate")
    train_split = self.load_split(config, config.train_split)
    eval_split = self.load_split(config, config.eval_split)
    pretrained = (self.pretrained(config, train_split.channels) if config.init_from
                  else None)
    info = self.dataset_info(config, train_split, pretrained)
    found = {}
    for name, split in (("train", train_split), ("eval", eval_split)):
      cache = proposals(config, run.workdir, split)
      found[name] = (split, _stack(split, info["mean"]),
                     regions.windows(split, cache, config.foreground_iou))
    _save_recall(config, run, train_split, eval_split)
    model = self.model(config, info)
    # An epoch draws each foreground window about once.
    foreground = found["train"][2].num_foreground
    if not foreground:
      raise ValueError(f"no window of {config.dataset}'s training split is foreground")
    per_epoch = foreground * config.batch_size // config.positives

    def window_batches(name, *, size, epoch, start, num_batches):
      split, images, windows = found[name]
      for batch in self.window_batches(
          config, split, windows, images, num_batches=num_batches, batch_size=size,
          positives=max(1, size * config.positives // config.batch_size),
          mean=info["mean"], std=info["std"], seed=config.seed, epoch=epoch,
          start_batch=start):
        yield {**batch, "mask": np.ones(len(batch["label"]), np.float32)}

    steps = -(-per_epoch // config.batch_size)
    evaluator = ClassificationEvaluator(
        base.apply_fn(config, model),
        lambda: window_batches("eval", size=config.eval_batch_size, epoch=0, start=0,
                               num_batches=config.eval_batches),
        num_classes=len(info["class_names"]) + 1, mesh=mesh)
    return base.Training(
        dataset_info=info, num_examples=per_epoch, model=model,
        train_step=classification.train_step(config),
        batches=lambda epoch, start: window_batches(
            "train", size=config.batch_size, epoch=epoch, start=start, num_batches=steps),
        evaluators=(evaluator,), progress=("loss", "top1"),
        init_params=None if pretrained is None else (
            lambda params: self.init_from(params, pretrained, config)))

  def finish(self, config: ml_collections.ConfigDict, run: runs.Run, variables: dict,
             step: int, mesh: Mesh) -> dict:
    """Stages 4 and 5 (unless <workdir>/detector.npz holds them for `step`), then the
    detector's VOC and COCO AP on the eval split, logged as split "detect"."""
    info = run.dataset_info
    path = run.workdir / runs.DETECTOR_FILE
    features = FeatureFn(config, self.feature_fn(config, self.model(config, info)), info)
    detector = _fitted(path, config, step)
    if detector is None:
      split = self.load_split(config, config.train_split)
      cache = proposals(config, run.workdir, split)
      per_image = features.of_split(variables, split, cache, with_ground_truth=True)
      detector = rcnn_detector.fit(per_image, split.records, len(info["class_names"]),
                                   detector_options(config), step=step,
                                   settings=detector_settings(config))
      if parallel.is_primary():
        detector.save(path)
    evaluator = self.svm_detector(config, run.workdir, detector, features,
                                  self.load_split(config, config.eval_split), "detect")
    values = evaluator.run(variables)
    if not any(r["step"] == step for r in run.records("detect")):
      run.log(step, "detect", values)
    return {k: v for k, v in values.items() if "/" not in k}

  def load_split(self, config, split: str) -> det_data.DetectionSplit:
    return detection.load_split(config, split)

  def load_split_from(self, config, spec: str) -> det_data.DetectionSplit:
    return detection.load_split_from(spec)

  def window_batches(self, config, split: det_data.DetectionSplit,
                     windows: regions.Windows, images: np.ndarray, **sampling):
    """Fine-tuning batches of `windows` (`regions.sampled`'s arguments): warped crops."""
    return regions.batches(split, windows, images, size=config.warp_size,
                           context=config.context, square=config.square, **sampling)

  def feature_fn(self, config, model: nn.Module) -> Callable:
    """`(variables, images, boxes, index) -> (features, regression)`, each [K, D]: the
    windows warped and run through the whole CNN, `config.feature` and
    `config.regression_feature` read."""
    names = (config.feature, config.regression_feature)

    def run(variables, images, boxes, index):
      crops = rcnn.warp_regions(images, boxes, config.warp_size, config.context,
                                config.square, image_index=index)
      found = extract_features(model, variables, crops)
      missing = [n for n in names if n not in found]
      if missing:
        raise ValueError(f"{config.model} records no feature {missing[0]!r} (config."
                         f"feature / config.regression_feature); it records "
                         f"{', '.join(found)}")
      return tuple(found[n].reshape(len(crops), -1) for n in names)

    return run

  def dataset_info(self, config, split: det_data.DetectionSplit,
                   pretrained: dict | None) -> dict:
    """What evaluating the run needs: classes, channels, normalisation; the CNN's input
    is one warped window."""
    mean, std = detection.normalisation(split, pretrained)
    return {"class_names": list(split.class_names), "channels": int(split.channels),
            "mean": mean, "std": std,
            "image_shape": [config.warp_size, config.warp_size, int(split.channels)]}

  def pretrained(self, config, channels: int) -> dict:
    """`config.init_from`'s weights, refused unless its input is one warped window."""
    pretrained = pretrained_run.load(config, channels)
    shape = list(pretrained["info"]["image_shape"][:2])
    if shape != [config.warp_size, config.warp_size]:
      raise ValueError(f"config.init_from={config.init_from!r} was trained on {shape[0]}×"
                       f"{shape[1]} images; this run warps windows to config.warp_size="
                       f"{config.warp_size}")
    return pretrained

  def init_from(self, params: dict, pretrained: dict, config) -> dict:
    """Every layer of the classification run but its last (`init_from`)."""
    return init_from(params, pretrained, config)

  def svm_detector(self, config, workdir, detector: rcnn_detector.Detector,
                   features: "FeatureFn", split: det_data.DetectionSplit,
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

  def evaluator(self, run: runs.Run, restored: base.Restored,
                split: det_data.DetectionSplit, name: str = "eval") -> RCNNEvaluator:
    """The whole detector (proposals, CNN, SVMs, NMS, regression) on `split`: refused
    unless the run's SVMs were fitted on `restored`'s checkpoint."""
    config, info = run.config, run.dataset_info
    detector = _fitted(run.workdir / runs.DETECTOR_FILE, config, restored.step)
    if detector is None:
      raise ValueError(f"{run.workdir} has no SVMs for step {restored.step} (stages 4-5 "
                       "run after training: run the same train command to fit them)")
    features = FeatureFn(config, self.feature_fn(config, restored.model), info)
    return self.svm_detector(config, run.workdir, detector, features, split, name)


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


def proposals(config, workdir, split: det_data.DetectionSplit,
              compute: bool = True) -> proposal_cache.ProposalCache:
  """Stage 1 for `split`: its proposals, from <workdir>/proposals/<split>.npz (copied
  from `config.proposals_from`'s, or computed there first when `compute`)."""
  path = pathlib.Path(workdir) / runs.PROPOSALS_DIR / f"{split.split}.npz"
  source = pathlib.Path(config.proposals_from or workdir) / runs.PROPOSALS_DIR / path.name
  copied = not path.exists() and source.exists() and source != path
  if copied:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path.with_name(path.name + ".copy"))
    os.replace(path.with_name(path.name + ".copy"), path)
  if not compute and not path.exists():
    raise FileNotFoundError(path)
  try:
    return proposal_cache.compute(split, path, config.search.to_dict(), config.max_proposals)
  except ValueError as e:
    if not copied:
      raise
    path.unlink()  # the copy is checked like any cache: other data or settings are refused
    raise ValueError(f"config.proposals_from={config.proposals_from!r}: {e}") from None


def _save_recall(config, run: runs.Run, *splits: det_data.DetectionSplit) -> None:
  path = run.workdir / runs.PROPOSALS_DIR / "recall.json"
  if path.exists() or not parallel.is_primary():
    return
  summary = {}
  for split in splits:
    cache = proposals(config, run.workdir, split)
    summary[split.split] = {
        "images": len(split), "proposals_per_image": len(cache.boxes) / max(1, len(split)),
        "recall_iou50": proposal_cache.recall(cache, split, 0.5)}
  runs.save_json(path, summary)
  print("proposals: " + "; ".join(
      f"{s} {v['proposals_per_image']:.0f} per image, recall {v['recall_iou50']:.3f} at "
      f"IoU 0.5" for s, v in summary.items()))


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


def _fitted(path: pathlib.Path, config, step: int) -> rcnn_detector.Detector | None:
  """The detector at `path` if it was fitted on `step` with the config's settings."""
  if not path.exists():
    return None
  detector = rcnn_detector.load(path)
  if detector.step != step or detector.settings != detector_settings(config):
    return None
  return detector


def largest_shape(split: det_data.DetectionSplit, ids=None) -> list[int]:
  """[H, W, C]: the tallest and the widest of the split's images `ids` (all by default)."""
  records = split.records if ids is None else [split.records[i] for i in ids]
  return [max(int(r["height"]) for r in records), max(int(r["width"]) for r in records),
          int(split.channels)]


def _stack(split: det_data.DetectionSplit, mean, ids=None) -> np.ndarray:
  """The split's images `ids` (all by default) as one uint8 array [N, H, W, C]: each at
  the top left of their `largest_shape`, the rest filled with the mean colour (`mean`
  of [0, 1] pixels: 0 once normalised, as R-CNN's crops are padded)."""
  ids = range(len(split)) if ids is None else ids
  fill = np.round(np.asarray(mean) * 255).astype(np.uint8)
  out = np.empty((len(ids), *largest_shape(split, ids)), np.uint8)
  out[:] = fill
  for k, i in enumerate(ids):
    image = split.image(i)
    out[k, :image.shape[0], :image.shape[1]] = image
  return out


def init_from(params: dict, pretrained: dict, config) -> dict:
  """`params` with every layer of the classification run but its last (the paper's:
  the 1000-way classifier is replaced by a randomly initialised (N + 1)-way one)."""
  source = jax.tree_util.tree_flatten_with_path(jax.device_get(pretrained["params"]))[0]
  source = {jax.tree_util.keystr(k): np.asarray(v) for k, v in source}
  flat, tree = jax.tree_util.tree_flatten_with_path(jax.device_get(params))
  out, fresh = [], []
  for path, value in flat:
    name = jax.tree_util.keystr(path)
    src = source.get(name)
    if src is not None and src.shape == value.shape:
      out.append(src.astype(value.dtype))
      continue
    if src is None or src.shape[:-1] != value.shape[:-1]:
      raise ValueError(f"config.init_from={config.init_from!r}: parameter {name} is "
                       f"{None if src is None else src.shape}, this run's is {value.shape}")
    out.append(np.asarray(value))
    fresh.append(name)  # the classifier's outputs: N + 1 here
  if len(fresh) > 2:  # a kernel and a bias
    raise ValueError(f"config.init_from={config.init_from!r}: {len(fresh)} parameters "
                     f"differ in their output size ({', '.join(fresh)}); only the last "
                     "layer may")
  return jax.tree_util.tree_unflatten(tree, out)


def padded_calls(boxes: np.ndarray, index: np.ndarray, size: int):
  """The windows in calls of `size`, the last padded only to the next power of two (at
  least 64): a handful of shapes to compile, and little work on padding where an image
  has few windows. Yields (boxes [S, 4], index [S], windows that are real)."""
  for start in range(0, len(boxes), size):
    n = len(boxes[start:start + size])
    call = min(size, max(64, 1 << (n - 1).bit_length()))
    b = np.tile(np.float32([0, 0, 1, 1]), (call, 1))
    i = np.zeros(call, np.int32)
    b[:n], i[:n] = boxes[start:start + size], index[start:start + size]
    yield b, i, n


class FeatureFn:
  """A fine-tuned network as a feature extractor over windows of whole images.

  Args:
    config: the run's config (`feature_batch_size`: windows per call).
    run: `(variables, images [B, H, W, C] normalised, boxes [K, 4], index [K]) ->
      (features [K, D], regression [K, Dr])` (`RCNN.feature_fn`), jitted here.
    info: the run's dataset info (the normalisation).
  """

  def __init__(self, config, run: Callable, info: dict):
    self._config = config
    self._mean = np.asarray(info["mean"], np.float32)
    self._std = np.asarray(info["std"], np.float32)
    self._run = jax.jit(run)

  def _windows(self, variables, images: np.ndarray, boxes: np.ndarray, index: np.ndarray):
    """Features of windows `boxes` [K, 4] of `images[index]`, in calls of few sizes."""
    stack = normaliser(images.shape[1:], self._mean, self._std)(np.asarray(images))
    outs = [[np.asarray(x)[:n] for x in self._run(variables, stack, b, i)]
            for b, i, n in padded_calls(boxes, index, self._config.feature_batch_size)]
    if not outs:
      return (np.zeros((0, 0), np.float32),) * 2
    return tuple(np.concatenate(parts) for parts in zip(*outs))

  def of_image(self, variables, image: np.ndarray,
               boxes: np.ndarray) -> rcnn_detector.RegionFeatures:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    features, regression = self._windows(variables, image[None], boxes,
                                         np.zeros(len(boxes), np.int32))
    return rcnn_detector.RegionFeatures(boxes, features, regression)

  def of_split(self, variables, split: det_data.DetectionSplit, cache, *,
               with_ground_truth: bool,
               group: int = 16) -> list[rcnn_detector.RegionFeatures]:
    """Every image's windows (its ground truth first when `with_ground_truth`, then its
    proposals) and their features, `group` images per CNN pass."""
    out = []
    with tqdm.tqdm(total=len(split), unit="image", desc="features", leave=False,
                   disable=None, dynamic_ncols=True) as bar:
      for first in range(0, len(split), group):
        ids = range(first, min(first + group, len(split)))
        boxes = [np.concatenate(
            ([np.asarray(split.records[i]["boxes"], np.float32).reshape(-1, 4)]
             if with_ground_truth else []) + [np.asarray(cache[i], np.float32)])
            for i in ids]
        index = np.concatenate([np.full(len(b), k, np.int32) for k, b in enumerate(boxes)])
        images = _stack(split, self._mean, ids)  # photos differ in size
        features, regression = self._windows(variables, images, np.concatenate(boxes),
                                             index)
        offsets = np.cumsum([0] + [len(b) for b in boxes])
        out.extend(rcnn_detector.RegionFeatures(b, features[a:z], regression[a:z])
                   for b, a, z in zip(boxes, offsets[:-1], offsets[1:]))
        bar.update(len(ids))
    return out
