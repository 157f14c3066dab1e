"""SPP-net (He et al. 2014, §4) as one staged run: R-CNN's stages (`jcnn.tasks.rcnn`)
where they are the same, with the CNN run once per image instead of once per window.

1. proposals: selective search, cached in the run (R-CNN's stage 1);
2. pre-training: `config.init_from`, a classification run of `config.model`, whose conv
   layers up to `config.conv_feature` are copied (the fc layers start afresh: their
   input is the 50-bin pyramid, not the classifier's fixed-size map);
3. fine-tuning through the shared loop on R-CNN's 32/96 batches of windows: each batch's
   images go through the conv layers once, every window's projection on
   `config.conv_feature` is pooled by the {6, 3, 2, 1} pyramid (`jcnn.models.sppnet`),
   and only the fc layers learn (the paper's; `config.finetune_conv` opens the rest);
4. and 5. SVMs on fc7 (the last hidden layer) and ridge box regressors on the pyramid
   (pool5's place), as R-CNN's;
6. test: one conv pass per image (`config.scales`: one, or the paper's multi-scale
   choice of each window's scale), then pooling, fc layers, SVMs, NMS and regression.
"""
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jcnn import models
from jcnn.analysis import receptive_field
from jcnn.detection import data as det_data
from jcnn.models import sppnet
from jcnn.detection.data import regions
from jcnn.models.features import run_to_feature
from jcnn.tasks import base, detection
from jcnn.tasks.init_from import all_but_last_layer, load_checked
from jcnn.tasks.rcnn.features import largest_shape
from jcnn.tasks.rcnn.fields import shared_fields, validate_shared
from jcnn.tasks.rcnn.task import RCNN


class SPPNet(RCNN):
  name = "sppnet"
  identity = ("canvas", "search", "max_proposals", "conv_feature", "levels", "head",
              "scales", "scale_target", "foreground_iou", "positives")

  def fields(self) -> ml_collections.ConfigDict:
    c = shared_fields()
    c.model = "lenet5"             # the zoo classifier whose conv layers run on whole images
    c.conv_feature = "s4"          # the map the pyramid pools (conv5 in the paper)
    c.levels = (6, 3, 2, 1)        # pyramid bins per side: 36 + 9 + 4 + 1 = 50
    c.head = (120, 84)             # fc6, fc7 widths; the SVMs read fc7
    c.dropout_rate = 0.0           # after fc6 and fc7 (0.5 in the paper's ZF-5 net)
    c.scales = (1.0,)              # image scales: one (the paper's single-scale) or several
    c.scale_target = 20.0          # with several: each window pooled where its side is
                                   # closest to this (224 in the paper)
    c.finetune_conv = False        # the paper fine-tunes the fc layers only
    return c

  def validate(self, config: ml_collections.ConfigDict) -> None:
    validate_shared(config)
    base.check_fields(config, [
        ("levels", len(config.levels) > 0 and all(n > 0 for n in config.levels),
         "must be positive bin counts"),
        ("head", len(config.head) > 0 and all(w > 0 for w in config.head),
         "must be positive widths (fc7 feeds the SVMs)"),
        ("scales", len(config.scales) > 0 and all(s > 0 for s in config.scales),
         "must be positive"),
        ("dropout_rate", 0 <= config.dropout_rate < 1, "must be in [0, 1)"),
    ])
    names = [f["name"] for f in models.feature_info(
        models.create(config.model, **config.model_kwargs),
        models.info(config.model).input_shape)]
    if config.conv_feature not in names:
      raise ValueError(f"config.conv_feature={config.conv_feature!r}: {config.model} "
                       f"records {', '.join(names)}")

  def model(self, config: ml_collections.ConfigDict, dataset_info: dict) -> nn.Module:
    stride, offset = geometry(config, dataset_info["image_shape"])
    return sppnet.SPPNet(
        num_classes=len(dataset_info["class_names"]) + 1, backbone=config.model,
        backbone_kwargs=tuple(sorted(config.model_kwargs.to_dict().items())),
        feature=config.conv_feature, stride=stride, offset=offset,
        levels=tuple(config.levels), hidden=tuple(config.head),
        dropout_rate=config.dropout_rate, scales=tuple(config.scales),
        scale_target=config.scale_target, freeze_conv=not config.finetune_conv)

  def window_batches(self, config, split: det_data.DetectionSplit,
                     windows: regions.Windows, images: np.ndarray, **sampling):
    """Fine-tuning batches: the windows on their (normalised) images, unwarped."""
    for batch in regions.sampled(split, windows, images, **sampling):
      label = batch.pop("label")
      yield {"image": batch, "label": label}

  def feature_fn(self, config, model: nn.Module) -> Callable:
    """fc7 and the pyramid of every window, one conv pass per image."""
    def run(variables, images, boxes, index):
      return model.apply(variables, {"images": images, "boxes": boxes, "index": index},
                         method=sppnet.SPPNet.features)
    return run

  def dataset_info(self, config, split: det_data.DetectionSplit,
                   pretrained: dict | None) -> dict:
    """Classes, channels, normalisation; the CNN's input is a whole image."""
    mean, std = detection.normalisation(split, pretrained)
    return {"class_names": list(split.class_names), "channels": int(split.channels),
            "mean": mean, "std": std, "image_shape": largest_shape(split)}

  def pretrained(self, config, channels: int) -> dict:
    return load_checked(config, channels)

  def init_from(self, params: dict, pretrained: dict, config) -> dict:
    """The conv layers from the classification run; the fc layers as initialised."""
    return {**params, "body": all_but_last_layer(params["body"], pretrained, config)}


def geometry(config, image_shape) -> tuple[float, float]:
  """The stride and first-cell centre of `config.conv_feature` in input pixels, read
  from the backbone's jaxpr (`jcnn.analysis.receptive_field`)."""
  body = models.create(config.model, **config.model_kwargs)
  side = models.info(config.model).input_shape[:2]
  variables = models.abstract_variables(body, (*side, image_shape[-1]))
  x = jax.ShapeDtypeStruct((1, *image_shape), jnp.float32)
  field = receptive_field(lambda v, x: run_to_feature(body.bind(v), config.conv_feature, x),
                          x, variables=variables).output
  jump, start = field.jump, field.start
  if len(set(jump)) != 1 or len(set(start)) != 1:
    raise ValueError(f"{config.model}'s {config.conv_feature} has a different geometry "
                     f"per axis (stride {jump}, first centre {start})")
  return float(jump[0]), float(start[0])
