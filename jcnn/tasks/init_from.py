"""`config.init_from`: a classification run whose weights start a detector's network,
loaded and checked (`load_checked`), then copied in as Faster R-CNN (`backbone_and_head`) or
R-CNN and SPP-net (`all_but_last_layer`, stage 2) take them."""
import jax
import ml_collections
import numpy as np

from jcnn import models, runs
from jcnn.models.convolutionalize import HEAD
from jcnn.tasks import registry


def load_checked(config: ml_collections.ConfigDict, channels: int) -> dict:
  """The params and dataset info of `config.init_from`'s latest checkpoint, refused
  unless it is a classification run of `config.model` on `channels`-channel images."""
  source = runs.Run.open(config.init_from)
  trained = source.config
  if trained.task != "classification":
    raise ValueError(f"config.init_from={config.init_from!r} is a {trained.task} run; "
                     "the backbone starts from a classification run")
  if trained.model != config.model:
    raise ValueError(f"config.init_from={config.init_from!r} trained model "
                     f"{trained.model!r}; this detector's backbone is {config.model!r}")
  info = source.dataset_info
  if info["image_shape"][-1] != channels:
    raise ValueError(f"config.init_from={config.init_from!r} was trained on "
                     f"{info['image_shape'][-1]}-channel images; {config.dataset} has "
                     f"{channels}")
  restored = registry.restore(source)
  return {"params": jax.device_get(restored.variables["params"]), "info": info,
          "step": restored.step}


def backbone_and_head(params: dict, pretrained: dict,
                      config: ml_collections.ConfigDict) -> dict:
  """Faster R-CNN's `params` with the backbone (and fc6/fc7 where the classifier has
  them) from the classification run.

  Every backbone parameter must exist in the classifier with the same shape; its own
  classifier layers beyond the cut are not used.
  """
  source = pretrained["params"]
  params = jax.tree.map(np.asarray, jax.device_get(params))

  def take(tree, path):
    for key in path:
      if not isinstance(tree, dict) or key not in tree:
        raise ValueError(f"config.init_from={config.init_from!r} has no parameter "
                         f"{'/'.join(path)}")
      tree = tree[key]
    return tree

  def copy(target, path, prefix=()):
    out = {}
    for key, value in target.items():
      if isinstance(value, dict):
        out[key] = copy(value, path, prefix + (key,))
        continue
      src = np.asarray(take(source, path + prefix + (key,)))
      if src.shape != value.shape:
        raise ValueError(f"config.init_from={config.init_from!r}: "
                         f"{'/'.join(path + prefix + (key,))} is {src.shape}, the "
                         f"detector's is {value.shape}")
      out[key] = src.astype(value.dtype)
    return out

  new = dict(params)
  new["body"] = copy(params["body"], ())
  if models.backbone(config.model).head_from_model and not config.head:
    head = dict(params["box_predictor"])
    for layer in ("fc6", "fc7"):
      head[layer] = copy(params["box_predictor"][layer], (HEAD, layer))
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
