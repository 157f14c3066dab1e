"""The R-CNN task: its config, model and stages in order, each stage's work done by the
modules beside this one (`jcnn.tasks.rcnn` lists them)."""
from typing import Callable

import flax.linen as nn
import ml_collections
import numpy as np
from jax.sharding import Mesh

from jcnn import models, runs
from jcnn.detection import data as det_data
from jcnn.detection import rcnn
from jcnn.detection.data import regions
from jcnn.evaluators.classification import ClassificationEvaluator
from jcnn.evaluators.rcnn import RCNNEvaluator
from jcnn.models.features import extract_features
from jcnn.tasks import base, classification, detection
from jcnn.tasks.init_from import all_but_last_layer, load_checked
from jcnn.tasks.rcnn import svms
from jcnn.tasks.rcnn.features import FeatureFn, stack_images
from jcnn.tasks.rcnn.fields import shared_fields, validate_shared
from jcnn.tasks.rcnn.proposals import proposals, save_recall


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
      found[name] = (split, stack_images(split, info["mean"]),
                     regions.windows(split, cache, config.foreground_iou))
    save_recall(config, run, train_split, eval_split)
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
        init_variables=None if pretrained is None else (
            lambda v: {**v, "params": self.init_from(v["params"], pretrained, config)}))

  def finish(self, config: ml_collections.ConfigDict, run: runs.Run, variables: dict,
             step: int, mesh: Mesh) -> dict:
    """Stages 4 and 5 (unless <workdir>/detector.npz holds them for `step`), then the
    detector's VOC and COCO AP on the eval split, logged as split "detect"."""
    info = run.dataset_info
    features = FeatureFn(config, self.feature_fn(config, self.model(config, info)), info)
    detector = svms.fitted(run.workdir, config, step)
    if detector is None:
      detector = svms.fit(config, run.workdir, self.load_split(config, config.train_split),
                          features, variables, step, len(info["class_names"]))
    evaluator = svms.detector_evaluator(config, run.workdir, detector, features,
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
    pretrained = load_checked(config, channels)
    shape = list(pretrained["info"]["image_shape"][:2])
    if shape != [config.warp_size, config.warp_size]:
      raise ValueError(f"config.init_from={config.init_from!r} was trained on {shape[0]}×"
                       f"{shape[1]} images; this run warps windows to config.warp_size="
                       f"{config.warp_size}")
    return pretrained

  def init_from(self, params: dict, pretrained: dict, config) -> dict:
    """Every layer of the classification run but its last (stage 2)."""
    return all_but_last_layer(params, pretrained, config)

  def evaluator(self, run: runs.Run, restored: base.Restored,
                split: det_data.DetectionSplit, name: str = "eval") -> RCNNEvaluator:
    """The whole detector (proposals, CNN, SVMs, NMS, regression) on `split`: refused
    unless the run's SVMs were fitted on `restored`'s checkpoint."""
    config, info = run.config, run.dataset_info
    detector = svms.fitted(run.workdir, config, restored.step)
    if detector is None:
      raise ValueError(f"{run.workdir} has no SVMs for step {restored.step} (stages 4-5 "
                       "run after training: run the same train command to fit them)")
    features = FeatureFn(config, self.feature_fn(config, restored.model), info)
    return svms.detector_evaluator(config, run.workdir, detector, features, split, name)

