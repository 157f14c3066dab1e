"""A trained network from another framework's weight file, as a zoo model's variables
(`load`) or as an ordinary classification run (`import_run`).

`import_run` writes what training would: the config (the zoo model and the fields the
source needs, ImageNet at the model's input size), the dataset info (input shape,
ImageNet's 1,000 class names, the source's normalisation, where the weights came from)
and one checkpoint at step 0. `python -m eval` and `config.init_from` read it as any run.
Nothing is written unless every tensor of the file found its place: the run is built
beside the workdir and renamed into place when complete.
"""
import dataclasses
import hashlib
import os
import pathlib
import shutil

import flax.linen as nn
import jax
import ml_collections
import numpy as np
from flax import traverse_util

from jcnn import models, optim, runs, tasks
from jcnn.data import imagenet
from jcnn.models.layers import BatchNorm
from jcnn.pretrained import keras, readers, timm, torchvision
from jcnn.pretrained.convert import Map, Tensors, Variables
from jcnn.state import TrainState

# Each source's maps, by zoo model name; timm's files are PyTorch's or safetensors.
SOURCES: dict[str, dict[str, Map]] = {
    "torchvision": torchvision.MAPS,
    "keras": keras.MAPS,
    "timm": timm.MAPS,
}


@dataclasses.dataclass(frozen=True)
class Imported:
  """A source network as a zoo model.

  Attributes:
    map: the name map that ported it.
    model: the zoo module (with `map.kwargs`).
    variables: {"params", ["batch_stats"]} as numpy float32 arrays.
    input_shape: the zoo model's default input (height, width, channels).
  """
  map: Map
  model: nn.Module
  variables: dict
  input_shape: tuple[int, int, int]


def find_map(source: str, model: str) -> Map:
  """The map of `model` from `source`; unknown ones are named with the choices."""
  if source not in SOURCES:
    raise ValueError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
  maps = SOURCES[source]
  if model not in maps:
    raise ValueError(f"no {source} map for model {model!r}; {source} maps: "
                     f"{', '.join(sorted(maps))}")
  return maps[model]


def load(source: str, path: str | os.PathLike, model: str) -> Imported:
  """Reads `path` and ports it to the zoo's `model`, checking every tensor.

  Raises:
    ValueError: (one line) an unknown source or model, an unreadable or unsafe file, a
      tensor missing, left over or of another shape than the zoo's.
  """
  port = find_map(source, model)
  weights = readers.read(path)
  tensors = Tensors(weights, port.source)
  built = Variables()
  port.build(tensors, built)
  left = tensors.left()
  if left:
    more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
    raise ValueError(f"{weights.path}: tensor {left[0]!r}{more} is not part of "
                     f"{port.source}: a file of another network?")
  net = models.create(port.model, **dict(port.kwargs))
  input_shape = models.info(port.model).input_shape
  variables = _checked(net, input_shape, built, port, weights.path)
  return Imported(port, net, variables, input_shape)


def _checked(net: nn.Module, input_shape, built: Variables, port: Map,
             path: pathlib.Path) -> dict:
  """`built` as the zoo model's variables tree, every leaf of the right shape, with the
  source's batch-norm epsilons folded into the running variances."""
  epsilons = {}

  def record_epsilon(next_fun, args, kwargs, context):
    if isinstance(context.module, BatchNorm) and context.method_name == "__call__":
      epsilons[context.module.path] = context.module.epsilon
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record_epsilon):
    target = traverse_util.flatten_dict(models.abstract_variables(net, input_shape))
  for key in built.leaves.keys() - target.keys():
    raise ValueError(f"{port.source} map builds {'/'.join(key)}, which {port.model} lacks")
  for key in target.keys() - built.leaves.keys():
    raise ValueError(f"{port.source} map gives no {'/'.join(key)} of {port.model}")
  out = {}
  for key, spec in target.items():
    leaf = built.leaves[key]
    if leaf.value.shape != spec.shape:
      raise ValueError(f"{path}: tensor {leaf.origin!r} is {list(leaf.shape)}; "
                       f"{port.model}'s {'/'.join(key[1:])} takes {list(spec.shape)} "
                       f"(as {port.source} stores it: a file of another network?)")
    out[key] = np.ascontiguousarray(leaf.value, spec.dtype)
  for module, epsilon in built.epsilons.items():
    if module not in epsilons:
      raise ValueError(f"{port.source} map: {'/'.join(module)} is no batch norm of "
                       f"{port.model}")
    if epsilon != epsilons[module]:
      var = ("batch_stats", *module, "var")
      folded = built.leaves[var].value.astype(np.float64) + (epsilon - epsilons[module])
      if np.any(folded < 0):
        raise ValueError(f"{path}: batch norm {built.leaves[var].origin!r} divides by "
                         f"sqrt(var + {epsilon:g}); with {port.model}'s epsilon "
                         f"{epsilons[module]:g} a variance below "
                         f"{epsilons[module] - epsilon:g} would have to be negative")
      out[var] = folded.astype(out[var].dtype)
  return traverse_util.unflatten_dict(out)


def import_run(source: str, path: str | os.PathLike, model: str,
               workdir: str | os.PathLike) -> pathlib.Path:
  """Ports `path` to `model` and writes it as a new classification run in `workdir`.

  Returns:
    The run folder.

  Raises:
    ValueError: (one line) what `load` refuses, or a `workdir` that already exists.
  """
  workdir = pathlib.Path(workdir)
  if workdir.exists():
    raise ValueError(f"workdir {workdir} exists; import into a new folder")
  imported = load(source, path, model)
  weights = pathlib.Path(path)
  config = run_config(imported, workdir.name)
  info = {"image_shape": list(imported.input_shape), "class_names": imagenet.class_names(),
          "wordnet_ids": list(imagenet.wordnet_ids()),
          "mean": list(imported.map.mean), "std": list(imported.map.std),
          "weights": {"source": imported.map.source, "file": weights.name,
                      "sha256": _sha256(weights)}}
  building = workdir.with_name(f".{workdir.name}.importing-{os.getpid()}")
  shutil.rmtree(building, ignore_errors=True)
  try:
    with runs.Run.create(building, config, tasks.identity(config)) as run:
      run.save_dataset_info(info)
      run.save(TrainState.create(
          apply_fn=imported.model.apply, params=imported.variables["params"],
          batch_stats=imported.variables.get("batch_stats", {}),
          tx=optim.make_optimizer(config, optim.make_schedule(config, 1, 1)),
          rng=jax.random.split(jax.random.PRNGKey(config.seed))[1]))
    building.rename(workdir)
  finally:
    shutil.rmtree(building, ignore_errors=True)
  return workdir


def run_config(imported: Imported, name: str) -> ml_collections.ConfigDict:
  """The config of an imported run: the zoo model (with the source's fields) on
  ImageNet at its input size, and plain SGD (no optimizer state: nothing was trained)."""
  config = tasks.default_config("classification")
  config.name = name
  config.model = imported.map.model
  config.model_kwargs = ml_collections.ConfigDict(dict(imported.map.kwargs))
  config.dataset = "imagenet2012"
  config.eval_split = "validation"
  config.resize = imported.input_shape[0]
  config.eval_batch_size = 50  # ImageNet's 50,000 validation images; 500 at 224² is GBs
  config.optimizer = "sgd"
  config.schedule = "constant"
  tasks.validate(config)
  return config


def _sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()
