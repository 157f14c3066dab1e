"""Stage 2: supervised pre-training's weights (`config.init_from`, a classification run)
copied into the detector's network, all but the classifier's last layer."""
import jax
import numpy as np


def init_from(params: dict, pretrained: dict, config) -> dict:
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
