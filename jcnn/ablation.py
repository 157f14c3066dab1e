"""Knock-out ablations: one trained checkpoint evaluated with parts of it changed.

Nothing is retrained. Each ablation wraps a Flax apply function
`apply(variables, x, train=False, **kwargs)` and returns another one, built on Flax's
method interceptors (`nn.intercept_methods`), so it works on any zoo model without hooks
or model flags:

- `knock_out`: blocks replaced by the identity (Veit et al. 2016: deleting a residual
  block is exact under this rule, since its input is a ReLU's output and the block
  ends with ReLU(x + F(x)); a plain net loses the whole layer);
- `dropout_on`: dropout kept on at test time, batch norm still on its stored statistics,
  one sample or the mean of several (Monte-Carlo dropout);
- `recomputed_batch_stats`: the batch-norm statistics recomputed on training data as
  exact population means and variances ("precise BN"), to put beside the stored running
  averages;
- `averaged_over`: test-time augmentation: the softmax averaged over views (horizontal
  flip, AlexNet's ten crops) or over the score map of a dense evaluation (VGG).
"""
import dataclasses
from typing import Callable, Iterable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jcnn.models import features
from jcnn.models.layers import BatchNorm, stored_statistics

KEEP = "ablation_keep"  # the variables' entry that `knock_out`'s apply reads
_MOMENTS = "ablation_moments"  # the collection `recomputed_batch_stats` sows into


@dataclasses.dataclass(frozen=True)
class Block:
  """A direct child of the model whose output has its input's shape."""
  name: str
  kind: str                  # the module's class name
  shape: tuple[int, ...]     # its input (= output) shape, batch axis included


def removable_blocks(apply_fn: Callable, variables: dict, x: jax.Array) -> list[Block]:
  """The model's direct children that the identity can replace, in the order called.

  A child qualifies when its output has its input's shape; batch normalisation layers
  are left out (removing one is not a block's knock-out). Traced with `eval_shape`, so
  nothing runs.
  """
  found: dict[str, Block] = {}

  def record(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    path = context.module.path
    if (context.method_name == "__call__" and len(path) == 1 and args
        and not isinstance(context.module, BatchNorm)
        and isinstance(out, jax.Array | jax.ShapeDtypeStruct)
        and getattr(args[0], "shape", None) == out.shape):
      found.setdefault(path[0], Block(path[0], type(context.module).__name__,
                                      tuple(out.shape)))
    return out

  def trace(variables, x):
    with nn.intercept_methods(record):
      return apply_fn(variables, x, train=False)

  jax.eval_shape(trace, variables, x)
  return list(found.values())


def knock_out(apply_fn: Callable, names: Iterable[str]) -> Callable:
  """`apply_fn` with block `names[i]` replaced by the identity where `keep[i]` is False.

  The returned apply reads `keep` (bool [len(names)]) from `variables[KEEP]`, so one
  compiled program serves every choice of blocks. Both branches run; the block's
  output or its input is selected.
  """
  index = {name: i for i, name in enumerate(names)}

  def apply(variables: dict, x: jax.Array, **kwargs):
    keep = variables[KEEP]
    variables = {k: v for k, v in variables.items() if k != KEEP}

    def interceptor(next_fun, args, kw, context):
      path = context.module.path
      out = next_fun(*args, **kw)
      if context.method_name != "__call__" or len(path) != 1 or path[0] not in index:
        return out
      return jnp.where(keep[index[path[0]]], out, args[0])

    with nn.intercept_methods(interceptor):
      return apply_fn(variables, x, **kwargs)

  return apply


def dropout_on(apply_fn: Callable, key: jax.Array, samples: int = 1) -> Callable:
  """`apply_fn` with dropout active at test time (batch norm stays on its statistics).

  With `samples` > 1 the output is the log of the mean softmax of that many dropout
  draws (Monte-Carlo dropout, Gal & Ghahramani 2016). The draws depend on `key` only,
  so two evaluations agree.
  """

  def one(variables, x, k):
    with nn.intercept_methods(stored_statistics()):
      out = apply_fn(variables, x, train=True, rngs={"dropout": k})
    return features.unpack_outputs(out)[0]

  def apply(variables: dict, x: jax.Array, train: bool = False):
    del train
    if samples == 1:
      return one(variables, x, key)
    probs = jax.lax.map(lambda k: jax.nn.softmax(one(variables, x, k)),
                        jax.random.split(key, samples))
    return jnp.log(jnp.mean(probs, axis=0))

  return apply


def recomputed_batch_stats(apply_fn: Callable, variables: dict, batches: Iterable[dict],
                           key: jax.Array) -> dict:
  """Every batch norm's mean and variance over `batches`, as a `batch_stats` tree.

  The model runs in training mode, as fvcore's precise BN does: each layer sees inputs
  normalised with batch statistics upstream, dropout drawn from `key`. The statistics
  are exact over all examples (mean of E[x] and E[x²], variance E[x²] - E[x]², in
  float64), not running averages. Batches are used whole; a batch with masked
  (padding) rows is skipped.
  """

  def sow_moments(next_fun, args, kwargs, context):
    module = context.module
    if isinstance(module, BatchNorm) and context.method_name == "__call__":
      x = args[0].astype(jnp.float32)
      axes = tuple(range(x.ndim - 1))
      module.sow(_MOMENTS, "moments", (jnp.mean(x, axes), jnp.mean(jnp.square(x), axes)))
    return next_fun(*args, **kwargs)

  @jax.jit
  def moments(variables, images, k):
    with nn.intercept_methods(sow_moments):
      _, updates = apply_fn(variables, images, train=True, rngs={"dropout": k},
                            mutable=["batch_stats", _MOMENTS])
    return updates[_MOMENTS]

  sums, count = None, 0
  for i, batch in enumerate(batches):
    if not np.all(batch["mask"]):
      continue
    flat = traverse_util.flatten_dict(jax.device_get(
        moments(variables, batch["image"], jax.random.fold_in(key, i))))
    values = {path[:-1]: np.asarray(v[0], np.float64) for path, v in flat.items()}
    sums = values if sums is None else {p: sums[p] + values[p] for p in sums}
    count += 1
  if not count:
    raise ValueError("no whole batch to recompute the batch-norm statistics on")
  stats = {}
  for path, (mean, mean_sq) in ((p, s / count) for p, s in sums.items()):
    stats[(*path, "mean")] = mean.astype(np.float32)
    stats[(*path, "var")] = np.maximum(mean_sq - mean ** 2, 0).astype(np.float32)
  recomputed = traverse_util.unflatten_dict(stats)
  _check_same_tree(variables.get("batch_stats", {}), recomputed)
  return recomputed


def _check_same_tree(stored: dict, recomputed: dict) -> None:
  want = set(traverse_util.flatten_dict(stored))
  got = set(traverse_util.flatten_dict(recomputed))
  if want != got:
    raise ValueError(f"recomputed statistics cover {len(got)} of the {len(want)} stored "
                     f"ones; missing: {sorted(want - got)[:3]}")


def flips(x: jax.Array) -> list[jax.Array]:
  """The image and its mirror image."""
  return [x, x[:, :, ::-1]]


def padded(x: jax.Array, pad: int, fill: jax.Array) -> jax.Array:
  """`x` [batch, h, w, c] padded by `pad` on every side with `fill` [c] (the normalised
  value of a zero pixel: what the pad-and-crop augmentation pads with)."""
  return jnp.pad(x - fill, ((0, 0), (pad, pad), (pad, pad), (0, 0))) + fill


def ten_crops(x: jax.Array, pad: int, fill: jax.Array) -> list[jax.Array]:
  """AlexNet's ten views: four corners and the centre of the image padded by `pad`
  (`padded`), each also mirrored.

  The crops have the input's size, so the net sees what its pad-and-crop training
  augmentation showed it; `pad` = 0 gives the image and its mirror, five times each.
  """
  _, h, w, _ = x.shape
  big = padded(x, pad, fill)
  offsets = ((0, 0), (0, 2 * pad), (2 * pad, 0), (2 * pad, 2 * pad), (pad, pad))
  crops = [big[:, i:i + h, j:j + w] for i, j in offsets]
  return crops + [c[:, :, ::-1] for c in crops]


def averaged_over(apply_fn: Callable, views: Callable[[jax.Array], list[jax.Array]]
                  ) -> Callable:
  """`apply_fn` returning the log of the softmax averaged over `views(x)`.

  A view's output may be a score map [batch, h, w, classes] (dense evaluation); its
  positions are averaged too, as VGG's dense evaluation does.
  """

  def apply(variables: dict, x: jax.Array, train: bool = False):
    probs = []
    for view in views(x):
      logits = features.unpack_outputs(apply_fn(variables, view, train=train))[0]
      p = jax.nn.softmax(logits)
      probs.append(p.reshape(p.shape[0], -1, p.shape[-1]).mean(axis=1))
    return jnp.log(jnp.mean(jnp.stack(probs), axis=0))

  return apply
