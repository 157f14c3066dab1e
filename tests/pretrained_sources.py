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

`parity(source, model, folder)` is the whole comparison of one map, in one place: the
parity tests assert on it and benchmarks/pretrained_parity.py stores it. What it builds
for each source (torchvision's constructors and input sides, timm's, Keras' with the
file format each is saved in) and the layer it reads each stage's map from are the
tables below.
"""
import functools
import importlib.util
import os
import pathlib
import sys
import types

import numpy as np
import pytest

from jcnn import pretrained
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models import googlenet, inception_v3


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


def imported_params(imported) -> int:
  """The number of parameters (not batch statistics) an import holds."""
  import jax
  return sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(imported.variables["params"]))


def random_picture(side: int) -> np.ndarray:
  """The picture every parity test runs: [1, side, side, 3] uniform in [0, 1]."""
  return np.random.default_rng(2).uniform(size=(1, side, side, 3)).astype(np.float32)


def compare(imported, picture: np.ndarray, expected: np.ndarray,
            maps: dict[str, np.ndarray], file: str) -> dict:
  """`imported` run on `picture` (normalised as its map says) against the source's
  `expected` logits and stage `maps`: the errors `parity` returns."""
  logits, features = jcnn_outputs(
      imported, normalise(picture, imported.map.mean, imported.map.std))
  return {"file": file, "input_side": picture.shape[1],
          "num_params": imported_params(imported),
          "logits": max_relative_error(logits, expected),
          "stages": {name: max_relative_error(features[name], value)
                     for name, value in maps.items()},
          "auxiliary": {}}


def errors(result: dict) -> dict[str, float]:
  """Every error of a `parity` result, by name: logits, stages, auxiliary classifiers."""
  return {"logits": result["logits"], **result["stages"], **result["auxiliary"]}


# --- torchvision --------------------------------------------------------------------

# torchvision's name where it differs from the zoo's.
TORCHVISION_NAMES = {"alexnet_1tower": "alexnet"}
# Built as torchvision builds them for its released weights (init_weights given only to
# quiet the warning that its default will change).
TORCHVISION_KWARGS = {name: {"transform_input": True, "init_weights": True}
                      for name in ("googlenet", "inception_v3")}
# Input sides other than the zoo's default: the ResNets' smallest that keeps a 2×2 last
# stage; sides that give GoogLeNet and Inception v3 odd grids (a ceil-mode pool's last,
# partial window; an average pool's border) and cost less than 224 and 299.
TORCHVISION_SIDES = {**{f"resnet{depth}": 64 for depth in (18, 34, 50, 101, 152)},
                     "googlenet": 200, "inception_v3": 139}


def torchvision_stage_layers(model: str, net) -> dict[str, str]:
  """{zoo feature: torchvision module} of one map per stage."""
  import torch
  if model.startswith("resnet"):
    return {"stem": "relu", **{f"stage{i}": f"layer{i}" for i in range(1, 5)}}
  if model == "alexnet_1tower":
    return {"pool1": "features.2", "pool2": "features.5", "relu3": "features.7",
            "relu4": "features.9", "pool5": "features.12"}
  if model == "googlenet":
    return {"stage1": "conv1", "stage2": "conv3", "stage3": "inception3b",
            "stage4": "inception4e", "stage5": "inception5b"}
  if model == "inception_v3":
    return {"stage1": "Conv2d_2b_3x3", "stage2": "Conv2d_4a_3x3", "stage3": "Mixed_5d",
            "stage4": "Mixed_6e", "stage5": "Mixed_7c"}
  pools = [name for name, m in net.features.named_children()
           if isinstance(m, torch.nn.MaxPool2d)]
  return {f"pool{i}": f"features.{name}" for i, name in enumerate(pools, start=1)}


def auxiliary_classifiers(model: str) -> dict[str, tuple]:
  """{zoo module: (the zoo's classifier, torchvision's module, its input [h, w, c])}, at
  the grids of the default input (evaluation does not run them)."""
  if model == "googlenet":
    return {"aux_4a": (googlenet.AuxClassifier(1000, "torchvision"), "aux1", (14, 14, 512)),
            "aux_4d": (googlenet.AuxClassifier(1000, "torchvision"), "aux2", (14, 14, 528))}
  if model == "inception_v3":
    return {"AuxLogits": (inception_v3.InceptionAux(1000), "AuxLogits", (17, 17, 768))}
  return {}


def auxiliary_errors(model: str, net, imported) -> dict[str, float]:
  """Each auxiliary classifier's max relative logit error, on a random map."""
  import torch
  found = {}
  rng = np.random.default_rng(3)
  for name, (zoo, source, shape) in auxiliary_classifiers(model).items():
    x = rng.standard_normal((1, *shape)).astype(np.float32)
    with torch.no_grad():
      expected = getattr(net, source)(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    variables = {kind: imported.variables[kind][name] for kind in ("params", "batch_stats")}
    actual = zoo.apply(variables, x, train=False)
    found[name] = max_relative_error(np.asarray(actual), expected.numpy())
  return found


def torchvision_parity(model: str, folder: pathlib.Path) -> dict:
  """torchvision's `model`, saved with torch.save: its logits, stage maps and
  auxiliary classifiers (ImageNet-normalised input, as its weights expect)."""
  torchvision = import_torchvision()
  import torch
  torch.manual_seed(0)
  net = getattr(torchvision.models, TORCHVISION_NAMES.get(model, model))(
      **TORCHVISION_KWARGS.get(model, {}))
  net = randomize_torch(net, seed=1)
  path = folder / f"{model}.pth"
  torch.save(net.state_dict(), path)
  imported = pretrained.load("torchvision", path, model)
  path.unlink()  # VGG's are 0.5 GB
  picture = random_picture(TORCHVISION_SIDES.get(model, imported.input_shape[0]))
  expected, maps = torch_outputs(net, normalise(picture, IMAGENET_MEAN, IMAGENET_STD),
                                 torchvision_stage_layers(model, net))
  result = compare(imported, picture, expected, maps, path.name)
  result["auxiliary"] = auxiliary_errors(model, net, imported)
  return result


# --- timm ---------------------------------------------------------------------------

# Smaller than the default 299, with odd grids (pools' and convolutions' borders) and a
# 3×3 last one.
TIMM_SIDE = 139


def variables_differing(a: dict, b: dict) -> list[str]:
  """The paths of the variables two imports do not hold alike (or one lacks)."""
  from flax import traverse_util
  a, b = (traverse_util.flatten_dict(v, sep="/") for v in (a, b))
  return sorted(key for key in a.keys() | b.keys()
                if key not in a or key not in b or not np.array_equal(a[key], b[key]))


def timm_parity(model: str, folder: pathlib.Path) -> dict:
  """timm's `model`, saved as its checkpoints are (.safetensors, as the Hugging Face hub
  serves them, and torch.save): its logits and its `feature_info` stages, normalised as
  its config says; "formats_differ" lists the variables the two files import unlike."""
  timm = import_timm()
  import torch
  from safetensors.torch import save_file
  torch.manual_seed(0)
  net = randomize_torch(timm.create_model(model), seed=1)
  pth, safetensors = folder / f"{model}.pth", folder / f"{model}.safetensors"
  torch.save(net.state_dict(), pth)
  save_file(net.state_dict(), safetensors)
  imported = pretrained.load("timm", safetensors, model)
  differing = variables_differing(imported.variables,
                                  pretrained.load("timm", pth, model).variables)
  picture = random_picture(TIMM_SIDE)
  config = net.pretrained_cfg
  stages = {f"stage{i}": info["module"] for i, info in enumerate(net.feature_info, start=1)}
  expected, maps = torch_outputs(net, normalise(picture, config["mean"], config["std"]),
                                 stages)
  return {**compare(imported, picture, expected, maps, safetensors.name),
          "formats_differ": differing}


# --- Keras --------------------------------------------------------------------------

# zoo model: (keras.applications constructor, its module (preprocess_input), input side,
# file name): each of the formats Keras writes at least once. InceptionV3 at a side with
# odd grids (its average pools' borders), MobileNet at one with an odd grid before a
# strided depthwise convolution (its padding); both cost less than their default.
KERAS_MODELS = {
    "vgg16": ("VGG16", "vgg16", 224, "vgg16.keras"),
    "vgg19": ("VGG19", "vgg19", 224, "vgg19.h5"),
    "resnet50": ("ResNet50", "resnet", 64, "resnet50.keras"),
    "resnet101": ("ResNet101", "resnet", 64, "resnet101.weights.h5"),
    "resnet152": ("ResNet152", "resnet", 64, "resnet152.h5"),
    "inception_v3": ("InceptionV3", "inception_v3", 139, "inception_v3.weights.h5"),
    "mobilenet_v1": ("MobileNet", "mobilenet", 72, "mobilenet.keras"),
}


def keras_stage_layers(model: str, net) -> dict[str, str]:
  """{zoo feature: Keras layer} of one map per stage."""
  import keras
  if model.startswith("vgg"):
    return {f"pool{i}": f"block{i}_pool" for i in range(1, 6)}
  if model == "inception_v3":  # the stem's activations are unnamed: the 3rd and 5th
    stem = [layer.name for layer in net.layers if isinstance(layer, keras.layers.Activation)]
    return {"stage1": stem[2], "stage2": stem[4], "stage3": "mixed2", "stage4": "mixed7",
            "stage5": "mixed10"}
  if model == "mobilenet_v1":
    return {f"stage{i}": f"conv_pw_{block}_relu"
            for i, block in enumerate((1, 3, 5, 11, 13), start=1)}
  last = {}
  for layer in net.layers:  # conv<stage>_block<n>_out: the last n of each stage
    if layer.name.endswith("_out"):
      stage = int(layer.name[4]) - 1
      last[f"stage{stage}"] = layer.name
  return {"stem": "conv1_relu", **last}


def keras_parity(model: str, folder: pathlib.Path) -> dict:
  """Keras' `model`, saved in its `KERAS_MODELS` format: its logits (the classifier
  without the softmax) on the input its own `preprocess_input` makes (BGR and
  Caffe-normalised, or "tf"'s [-1, 1]), and its stage maps."""
  import keras
  constructor, module, side, name = KERAS_MODELS[model]
  keras.utils.set_random_seed(0)
  net = getattr(keras.applications, constructor)(weights=None, input_shape=(side, side, 3),
                                                 classifier_activation=None)
  net = randomize_keras(net, seed=1)
  path = folder / name
  net.save_weights(path) if name.endswith(".weights.h5") else net.save(path)
  imported = pretrained.load("keras", path, model)
  path.unlink()
  picture = random_picture(side)
  preprocess = getattr(keras.applications, module).preprocess_input
  expected, maps = keras_outputs(net, preprocess(picture * 255),
                                 keras_stage_layers(model, net))
  return compare(imported, picture, expected, maps, name)


PARITY = {"torchvision": torchvision_parity, "timm": timm_parity, "keras": keras_parity}


def parity(source: str, model: str, folder: str | os.PathLike) -> dict:
  """The source's own `model` with random weights (and random batch-norm statistics and
  biases), saved in `folder` in the source's format, imported, and run beside the port
  on the same picture, each side normalised as its weights expect.

  Returns:
    {"file": the file imported, "input_side": the picture's side, "num_params": the
    parameters imported, "logits": the logits' max relative error (max |error| / max
    |value|), "stages": {zoo feature: its error} (one map per stage), "auxiliary": {zoo
    module: its logits' error} (torchvision's GoogLeNet and Inception v3)}; timm's also
    "formats_differ": the variables its .safetensors and .pth files import unlike.
  """
  if source not in PARITY:
    raise ValueError(f"no parity for source {source!r}; choose from {', '.join(PARITY)}")
  return PARITY[source](model, pathlib.Path(folder))
