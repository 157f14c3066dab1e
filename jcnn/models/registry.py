"""The model registry: every model by name, with the metadata tools need.

`create(name, **overrides)` builds a Flax module; `list_models(pattern)` lists names;
`info(name)` gives the input size, class count and the paper's reference numbers;
`backbone(name)` where a detector cuts the model (its entry's `backbone`).
"""
import dataclasses
import difflib
import fnmatch
from typing import Any, Callable

import flax.linen as nn


@dataclasses.dataclass(frozen=True)
class Backbone:
  """Where a zoo model is cut to serve as a detector's backbone (Faster R-CNN).

  Attributes:
    feature: the recorded feature the RPN and the RoI pooling read.
    stride: its total stride in input pixels.
    head: widths of the box head's hidden layers (fc6, fc7).
    head_from_model: fc6/fc7 are the classifier's own (their weights can come from a
      classification run): the RoI pooling then gives the window the classifier reads.
    roi_size: the RoI pooling's output side (VGG: 7, ZF: 6, as py-faster-rcnn).
    kwargs: given to the zoo model (VGG and ZF take any input size fully convolutional).
  """
  feature: str
  stride: int
  head: tuple[int, ...]
  head_from_model: bool = False
  roi_size: int = 7
  kwargs: tuple = ()


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What is known about a registered model without building it.

  Attributes:
    name: registry name.
    constructor: returns the Flax module; keyword arguments override its fields.
    input_shape: default input `(height, width, channels)`.
    num_classes: default number of output classes.
    paper: the reference the architecture follows.
    num_params: the reference parameter count (None where no reference exists).
    params_source: where `num_params` comes from (torchvision, Keras, the paper, ...).
    top1: the reported top-1 accuracy (fraction) on the paper's benchmark, or None.
    top1_source: where `top1` is reported (paper table, torchvision, ...).
    macs: multiply-accumulates of one forward pass at `input_shape`, if published.
    min_input_size: the smallest square input the architecture accepts.
    mean, std: per-channel input normalisation the reference weights expect.
    aux_loss_weight: weight of each auxiliary classifier's loss (GoogLeNet: 0.3).
    backbone: where a detector cuts the model, or None (it is no detection backbone).
    notes: choices made where the paper leaves room.
  """
  name: str
  constructor: Callable[..., nn.Module]
  input_shape: tuple[int, int, int]
  num_classes: int
  paper: str
  num_params: int | None = None
  params_source: str = ""
  top1: float | None = None
  top1_source: str = ""
  macs: int | None = None
  min_input_size: int | None = None
  mean: tuple[float, ...] | None = None
  std: tuple[float, ...] | None = None
  aux_loss_weight: float = 0.0
  backbone: Backbone | None = None
  notes: str = ""


_REGISTRY: dict[str, ModelInfo] = {}


def register(name: str, *, input_shape: tuple[int, int, int], num_classes: int, paper: str,
             **metadata: Any):
  """Decorator adding a module constructor to the registry under `name`.

  `metadata` fills the other ModelInfo fields (num_params, top1, macs, ...).
  """

  def decorator(constructor):
    if name in _REGISTRY:
      raise ValueError(f"model {name!r} is registered twice")
    _REGISTRY[name] = ModelInfo(name, constructor, tuple(input_shape), num_classes, paper,
                                **metadata)
    return constructor

  return decorator


def info(name: str) -> ModelInfo:
  """The registry entry of `name`; unknown names raise with close matches."""
  try:
    return _REGISTRY[name]
  except KeyError:
    close = difflib.get_close_matches(name, _REGISTRY, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown model {name!r}{hint} "
                     f"(known: {', '.join(sorted(_REGISTRY))})") from None


def create(name: str, **overrides: Any) -> nn.Module:
  """Builds the registered model `name`, overriding module fields by keyword."""
  entry = info(name)
  try:
    return entry.constructor(**overrides)
  except TypeError as e:
    raise ValueError(f"bad overrides for model {name!r}: {e}") from None


def backbone(name: str) -> Backbone:
  """The detection cut of zoo model `name`; refused for models that have none."""
  cut = info(name).backbone
  if cut is None:
    having = sorted(n for n, entry in _REGISTRY.items() if entry.backbone is not None)
    raise ValueError(f"model {name!r} has no detection backbone cut; choose from "
                     f"{', '.join(having)}")
  return cut


def list_models(pattern: str = "*") -> list[str]:
  """Registered names matching a shell-style `pattern`, sorted."""
  return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))
