"""The source frameworks' own networks for the parity tests of `jcnn.pretrained`: built
with random weights by torchvision and timm (through torch) or Keras (through
TensorFlow), saved in the framework's own format, and run on the same picture as the
port, each normalised as its weights expect.

torch comes with the `torch` extra (`pip install -e '.[torch]'`; `.ci/run` installs it).
Without it the torch tests skip, saying so; with CI set they fail instead.

The one bypass: PyPI's torchvision wheels are built against CUDA builds of torch. With a
CPU torch their compiled ops (`torchvision/_C.so`: nms, roi_align, ...) do not load,
and `import torchvision` fails in `torchvision._meta_registrations`, which registers
fake kernels for exactly those ops. The classifiers use none of them, so
`import_torchvision` puts an empty module in that one's place before importing; nothing
else of torchvision is touched. This module is the only place that does it (timm
imports torchvision, so `import_timm` goes through it too).
"""
import functools
import importlib.util
import os
import sys
import types

import numpy as np
import pytest


def require_torch():
  """torch, or a skip naming the extra (a failure with CI set: .ci/run installs it)."""
  if importlib.util.find_spec("torch") is None:
    message = "torch is not installed: pip install -e '.[torch]'"
    if os.environ.get("CI"):
      pytest.fail(f"{message} (.ci/run installs the torch extra)")
    pytest.skip(message)
  import torch
  torch.set_num_threads(1)
  return torch


def import_torchvision():
  """torchvision's pure-Python models, on the CPU torch (see the module's docstring)."""
  require_torch()
  if "torchvision" not in sys.modules:
    name = "torchvision._meta_registrations"
    sys.modules.setdefault(name, types.ModuleType(name))
  import torchvision
  return torchvision


def import_timm():
  """timm, whose layers import torchvision (see `import_torchvision`)."""
  import_torchvision()
  import timm
  return timm


def normalise(pixels: np.ndarray, mean, std) -> np.ndarray:
  """`pixels` in [0, 1] as a network's input: (pixels - mean) / std per channel."""
  return ((pixels - np.asarray(mean)) / np.asarray(std)).astype(np.float32)


def randomize_torch(model, seed: int):
  """Random batch-norm statistics and affine parameters, and random biases, on top of
  the framework's own initialisation (which leaves them at 0 and 1: a port that swapped
  or dropped them would pass)."""
  import torch
  generator = torch.Generator().manual_seed(seed)
  uniform = lambda t, low, high: t.copy_(low + (high - low) * torch.rand(t.shape,
                                                                          generator=generator))
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        uniform(module.weight, 0.5, 1.5)
        uniform(module.bias, -0.2, 0.2)
        uniform(module.running_mean, -0.2, 0.2)
        uniform(module.running_var, 0.5, 1.5)
      elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and module.bias is not None:
        uniform(module.bias, -0.1, 0.1)
  return model.eval()


def torch_outputs(model, x: np.ndarray, layers: dict[str, str]):
  """(logits, {zoo feature name: NHWC map}) of `model` on `x` [B, H, W, C], the maps
  taken by forward hooks on the named modules `layers` ({zoo name: module name})."""
  import torch
  found, hooks = {}, []
  modules = dict(model.named_modules())

  def keep(zoo_name, module, inputs, output):  # returns None: the output is unchanged
    found.setdefault(zoo_name, output.permute(0, 2, 3, 1).numpy().copy())

  for zoo_name, module_name in layers.items():
    hooks.append(modules[module_name].register_forward_hook(
        functools.partial(keep, zoo_name)))
  with torch.no_grad():
    logits = model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
  for hook in hooks:
    hook.remove()
  return logits, found


def randomize_keras(model, seed: int):
  """Random batch-norm statistics and affine parameters, and random biases (Keras
  starts them at 0 and 1 too)."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    kind = type(layer).__name__
    weights = layer.get_weights()
    if kind == "BatchNormalization":  # gamma only with scale=True (InceptionV3: False)
      ranges = ([(0.5, 1.5)] if layer.scale else []) + [(-0.2, 0.2), (-0.2, 0.2), (0.5, 1.5)]
      layer.set_weights([rng.uniform(low, high, w.shape) for (low, high), w in
                         zip(ranges, weights, strict=True)])
    elif kind in ("Conv2D", "Dense") and len(weights) == 2:
      layer.set_weights([weights[0], rng.uniform(-0.1, 0.1, weights[1].shape)])
  return model


def keras_outputs(model, x: np.ndarray, layers: dict[str, str]):
  """(logits, {zoo feature name: NHWC map}) of a Keras model on `x`, the maps being
  the outputs of its layers `layers` ({zoo name: Keras layer name})."""
  import keras
  probe = keras.Model(model.input, [model.output] + [model.get_layer(n).output
                                                      for n in layers.values()])
  outputs = probe(x, training=False)
  logits, *maps = [np.asarray(o) for o in (outputs if isinstance(outputs, list) else [outputs])]
  return logits, dict(zip(layers, maps))


def jcnn_outputs(imported, x: np.ndarray):
  """(logits, {feature name: map}) of an imported zoo model on `x`."""
  from flax import traverse_util
  logits, state = imported.model.apply(imported.variables, x, train=False,
                                       mutable=["features"])
  flat = traverse_util.flatten_dict(state["features"], sep="/")
  features = {name: np.asarray(values[-1]) for name, values in flat.items()}
  return np.asarray(logits), features


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
  """max |actual - expected| / max |expected|: the parity tests' measure."""
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
