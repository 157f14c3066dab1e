"""The functions the visualisations look at: a zoo model's logits and its named features.

Layers are the names a model records (`jcnn.models.feature_info`); a feature function
runs the model only up to its layer (`run_to_feature`), so it costs no more than the
layers below it.
"""
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jcnn.analysis import jaxpr_walk
from jcnn.models import features


def layer_names(model: nn.Module, input_shape: tuple[int, int, int],
                spatial: bool = True) -> list[str]:
  """The recorded features' names, in order; only [B, H, W, C] maps when `spatial`."""
  return [f["name"] for f in features.feature_info(model, input_shape)
          if not spatial or len(f["shape"]) == 3]


def check_layer(model: nn.Module, input_shape: tuple[int, int, int], layer: str) -> str:
  """`layer` if the model records it as a spatial map, else a ValueError naming them."""
  names = layer_names(model, input_shape)
  if layer not in names:
    raise ValueError(f"unknown layer {layer!r} for {type(model).__name__}; its feature "
                     f"maps are {', '.join(names)}")
  return layer


def feature_fn(model: nn.Module, layer: str) -> Callable:
  """(variables, x [B, H, W, C]) -> the feature map `layer` [B, h, w, channels]."""
  cut = lambda module, x: features.run_to_feature(module, layer, x, train=False)
  return lambda variables, x: model.apply(variables, x, method=cut)


def logits_fn(model: nn.Module) -> Callable:
  """(variables, x) -> logits [B, classes], in evaluation mode."""
  return lambda variables, x: features.unpack_outputs(
      model.apply(variables, x, train=False))[0]


def conv_kernel(fn: Callable, variables, input_shape: tuple[int, int, int],
                last: bool = False) -> tuple[str, np.ndarray]:
  """The (path, kernel [kh, kw, in, out]) of the first — or `last` — convolution that
  `fn(variables, x)` applies with a kernel taken straight from its variables."""
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  graph, leaves, _ = jaxpr_walk.trace_model(fn, x, variables)
  paths = {value.id: path for path, value in leaves}
  found = [paths[n.inputs[1].id] for n in graph.nodes
           if n.name == "conv_general_dilated" and isinstance(n.inputs[1], jaxpr_walk.Value)
           and n.inputs[1].id in paths]
  if not found:
    raise ValueError("the model applies no convolution with a kernel of its own")
  path = found[-1 if last else 0]
  arrays = {jax.tree_util.keystr(p, simple=True, separator="/"): leaf
            for p, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]}
  return path, np.asarray(arrays[path])
