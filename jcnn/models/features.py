"""Intermediate features by name, the same way for every model of the zoo.

Models record each stage's output with `record(self, name, x)` (a Flax `sow` into the
"features" collection); `extract_features` returns them in order, `feature_info` gives
their channels and stride without running the model (timm's `feature_info`).
`run_to_feature` runs a model only up to one recorded feature: a detector's backbone is
any zoo model cut there, with no layers (nor parameters) beyond the cut.
"""
import contextvars
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from jcnn.models.variables import abstract_variables

FEATURES = "features"
_CUT = contextvars.ContextVar("jcnn_feature_cut", default=None)


class _FeatureReached(Exception):
  """Carries the feature a cut model stopped at out of its `__call__`."""

  def __init__(self, value):
    super().__init__("feature reached")
    self.value = value


def record(module: nn.Module, name: str, x: jax.Array) -> jax.Array:
  """Records `x` as feature `name` of `module` (only when asked for) and returns it.

  Not during `init`, so that initial variables hold parameters and statistics only.
  Inside `run_to_feature(..., name)` the model stops here.
  """
  if _CUT.get() == name:
    raise _FeatureReached(x)
  if not module.is_initializing():
    module.sow(FEATURES, name, x)
  return x


def run_to_feature(model: nn.Module, name: str, x: jax.Array, **kwargs) -> jax.Array:
  """Calls the bound or child module `model` on `x` and returns its feature `name`.

  The call stops where `name` is recorded, so layers after it neither run nor get
  parameters (inside a parent's `init`, the child's tree ends at the cut). `name` is a
  feature recorded by `model` itself (see `feature_info`).
  """
  token = _CUT.set(name)
  try:
    model(x, **kwargs)
  except _FeatureReached as reached:
    return reached.value
  finally:
    _CUT.reset(token)
  raise ValueError(f"{type(model).__name__} records no feature {name!r}; see "
                   f"jcnn.models.feature_info for the names it records")


def unpack_outputs(outputs: Any) -> tuple[jax.Array, tuple[jax.Array, ...]]:
  """Splits a model's output into (logits, auxiliary logits).

  Every model returns logits `[batch, classes]`; models with auxiliary classifiers
  (GoogLeNet, Inception v3) return `(logits, (aux_1, ...))` when called with
  `train=True`.
  """
  if isinstance(outputs, tuple):
    logits, aux = outputs
    return logits, tuple(aux)
  return outputs, ()


def extract_features(model: nn.Module, variables: dict, x: jax.Array, *,
                     train: bool = False, rngs: dict | None = None) -> dict[str, jax.Array]:
  """Runs `model` on `x` and returns its recorded features `{name: [B, H, W, C]}`.

  Names of features recorded inside sub-modules are joined with "/".
  """
  mutable = [FEATURES, "batch_stats"] if train else [FEATURES]
  _, state = model.apply(variables, x, train=train, rngs=rngs, mutable=mutable)
  flat = traverse_util.flatten_dict(state.get(FEATURES, {}), sep="/")
  return {name: values[-1] for name, values in flat.items()}


def feature_info(model: nn.Module, input_shape: tuple[int, int, int]) -> list[dict]:
  """Name, shape, channels and stride of each recorded feature for one input.

  Computed with `jax.eval_shape`: no parameters are allocated and nothing runs.
  """
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  names = []  # eval_shape would sort a dict's keys: keep the model's order aside

  def run(variables, x):
    features = extract_features(model, variables, x)
    names.extend(features)
    return list(features.values())

  shapes = jax.eval_shape(run, abstract_variables(model, input_shape), x)
  info = []
  for name, s in zip(names, shapes):
    stride = input_shape[0] // s.shape[1] if len(s.shape) == 4 else None
    info.append({"name": name, "shape": tuple(s.shape[1:]), "channels": s.shape[-1],
                 "stride": stride})
  return info
