"""`config.init_from`: a classification run whose weights start another network,
loaded and checked (`load_checked`), then copied in as a classifier (`all_but_excluded`),
Faster R-CNN (`backbone_and_head`) or R-CNN and SPP-net (`all_but_last_layer`, stage 2)
take them. `config.init_exclude` (classification, Faster R-CNN) names the parameters
that keep their fresh initialisation: a new head for another set of classes."""
import re

import jax
import ml_collections
import numpy as np

from jcnn import models, param_paths, runs
from jcnn.models.convolutionalize import HEAD
from jcnn.tasks import registry


def fields() -> ml_collections.ConfigDict:
  """The fields of the tasks that start from a run and may leave parameters out."""
  c = ml_collections.ConfigDict()
  c.init_from = ""               # a classification run of config.model whose weights start this one
  c.init_exclude = ""            # regex over parameter paths: those keep their fresh initialisation
  return c


def validate(config: ml_collections.ConfigDict) -> None:
  """Refuses a bad `init_exclude`, or one without `init_from`."""
  param_paths.compile_field(config, "init_exclude")
  if config.init_exclude and not config.init_from:
    raise ValueError(f"config.init_exclude={config.init_exclude!r} needs config.init_from: "
                     "without it every parameter is freshly initialised")


def load_checked(config: ml_collections.ConfigDict, channels: int, *,
                 same_kwargs: bool = False) -> dict:
  """The params, batch statistics and dataset info of `config.init_from`'s latest
  checkpoint, refused unless it is a classification run of `config.model` on
  `channels`-channel images; with `same_kwargs`, also unless this run sets each of its
  `model_kwargs` alike (Keras' ResNets: stride_in_1x1=True changes no shape, only what
  the weights compute)."""
  source = runs.Run.open(config.init_from)
  trained = source.config
  if trained.task != "classification":
    raise ValueError(f"config.init_from={config.init_from!r} is a {trained.task} run; "
                     "the network starts from a classification run")
  if trained.model != config.model:
    raise ValueError(f"config.init_from={config.init_from!r} trained model "
                     f"{trained.model!r}; this run's model or backbone is {config.model!r}")
  for key, value in trained.model_kwargs.items() if same_kwargs else ():
    if config.model_kwargs.get(key) != value:
      raise ValueError(f"config.init_from={config.init_from!r} trained {trained.model} with "
                       f"model_kwargs.{key}={value!r}; set it alike here (this run: "
                       f"{config.model_kwargs.get(key)!r})")
  info = source.dataset_info
  if info["image_shape"][-1] != channels:
    raise ValueError(f"config.init_from={config.init_from!r} was trained on "
                     f"{info['image_shape'][-1]}-channel images; {config.dataset} has "
                     f"{channels}")
  restored = registry.restore(source)
  return {"params": jax.device_get(restored.variables["params"]),
          "batch_stats": jax.device_get(restored.variables.get("batch_stats", {})),
          "info": info, "step": restored.step}


def all_but_excluded(variables: dict, pretrained: dict,
                     config: ml_collections.ConfigDict) -> dict:
  """`variables` ({"params", "batch_stats"}) with every leaf copied from the
  classification run, but those whose path matches `config.init_exclude` (e.g. the
  head, "^fc/", for another number of classes), which keep their fresh initialisation.

  Raises:
    ValueError: (one line) a leaf to copy that the run lacks or has in another shape, or
      an `init_exclude` that matches no path.
  """
  exclude = config.init_exclude
  if exclude:
    param_paths.check_chooses(exclude, param_paths.names(variables["params"])
                              + param_paths.names(variables["batch_stats"]), "init_exclude")
  out = {}
  for collection in ("params", "batch_stats"):
    source = jax.tree_util.tree_flatten_with_path(pretrained[collection])[0]
    source = {param_paths.name(path): np.asarray(value) for path, value in source}

    def take(key_path, fresh):
      path = param_paths.name(key_path)
      fresh = np.asarray(fresh)
      if exclude and re.search(exclude, path):
        return fresh
      if path not in source:
        raise ValueError(f"config.init_from={config.init_from!r} has no {path} to copy; "
                         "leave it fresh with config.init_exclude")
      if source[path].shape != fresh.shape:
        raise ValueError(f"config.init_from={config.init_from!r}: {path} is "
                         f"{source[path].shape} there, {fresh.shape} here; re-initialise it "
                         "with config.init_exclude")
      return source[path].astype(fresh.dtype)

    out[collection] = jax.tree_util.tree_map_with_path(take,
                                                       jax.device_get(variables[collection]))
  return out


def backbone_and_head(params: dict, pretrained: dict,
                      config: ml_collections.ConfigDict) -> dict:
  """Faster R-CNN's `params` with the backbone (and fc6/fc7 where the classifier has
  them) from the classification run.

  Every backbone parameter must exist in the classifier with the same shape; its own
  classifier layers beyond the cut are not used. Parameters whose path in the detector
  ("body/conv1_1/kernel") matches `config.init_exclude` keep their fresh initialisation.
  """
  source = pretrained["params"]
  params = jax.tree.map(np.asarray, jax.device_get(params))
  exclude = config.init_exclude
  if exclude:
    param_paths.check_chooses(exclude, param_paths.names(params), "init_exclude")

  def take(tree, path):
    for key in path:
      if not isinstance(tree, dict) or key not in tree:
        raise ValueError(f"config.init_from={config.init_from!r} has no parameter "
                         f"{'/'.join(path)}")
      tree = tree[key]
    return tree

  def copy(target, path, dest, prefix=()):
    """`target` (the detector's `dest`) from the classifier's `path`."""
    out = {}
    for key, value in target.items():
      if isinstance(value, dict):
        out[key] = copy(value, path, dest, prefix + (key,))
        continue
      if exclude and re.search(exclude, "/".join(dest + prefix + (key,))):
        out[key] = value
        continue
      src = np.asarray(take(source, path + prefix + (key,)))
      if src.shape != value.shape:
        raise ValueError(f"config.init_from={config.init_from!r}: "
                         f"{'/'.join(path + prefix + (key,))} is {src.shape}, the "
                         f"detector's is {value.shape}")
      out[key] = src.astype(value.dtype)
    return out

  new = dict(params)
  new["body"] = copy(params["body"], (), ("body",))
  if models.backbone(config.model).head_from_model and not config.head:
    head = dict(params["box_predictor"])
    for layer in ("fc6", "fc7"):
      head[layer] = copy(params["box_predictor"][layer], (HEAD, layer),
                         ("box_predictor", layer))
    new["box_predictor"] = head
  return new


def all_but_last_layer(params: dict, pretrained: dict, config) -> dict:
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
