"""Classification and box-regression losses, and weight penalties."""
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

_REDUCTIONS = ("mean", "sum", "none")
# l2_penalty's named subsets: (path, leaf) -> whether the leaf is penalised.
_SUBSETS = {
    "kernels": lambda path, leaf: path[-1] == "kernel",
    "dense": lambda path, leaf: path[-1] == "kernel" and leaf.ndim == 2,
    "all": lambda path, leaf: True,
}


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array, *,
                          label_smoothing: float = 0.0, reduction: str = "mean",
                          weights: jax.Array | None = None) -> jax.Array:
  """Cross-entropy of softmax(logits) against integer or probability labels.

  Args:
    logits: [batch, num_classes].
    labels: integer class ids [batch], or one-hot / probabilities
      [batch, num_classes]; told apart by their rank.
    label_smoothing: alpha in [0, 1): targets become
      (1 - alpha) * one_hot + alpha / num_classes (Inception-v3's recipe).
    reduction: "mean", "sum" or "none" (per-example losses [batch]).
    weights: optional [batch] per-example weights, e.g. a 0/1 mask for padded
      evaluation batches; "mean" is then sum(w * loss) / sum(w), and 0 when
      every weight is 0.

  Returns:
    A scalar, or [batch] with reduction="none".
  """
  if reduction not in _REDUCTIONS:
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
  if not 0.0 <= label_smoothing < 1.0:
    raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
  logits, labels = jnp.asarray(logits), jnp.asarray(labels)
  sparse = labels.shape == logits.shape[:-1]
  if sparse and not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(f"labels of shape {labels.shape} are class ids and must be "
                     f"integers, got dtype {labels.dtype}")
  if not sparse and labels.shape != logits.shape:
    raise ValueError(f"labels must have shape {logits.shape[:-1]} (class ids) or "
                     f"{logits.shape} (probabilities) for logits {logits.shape}, "
                     f"got {labels.shape}")
  if sparse and not label_smoothing:
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  else:
    if sparse:
      labels = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    losses = optax.softmax_cross_entropy(
        logits, optax.smooth_labels(labels, label_smoothing))
  return _reduce(losses, reduction, weights)


def smooth_l1(predictions: jax.Array, targets: jax.Array, sigma: float = 1.0) -> jax.Array:
  """Fast R-CNN's smooth-L1, elementwise, in py-faster-rcnn's `sigma` form.

  0.5 * (sigma * x)^2 where |x| < 1 / sigma^2, else |x| - 0.5 / sigma^2, for
  x = predictions - targets: sigma = 3 for the RPN, 1 for the detection head
  (torchvision's `beta` is 1 / sigma^2). Reduce it with the task's own normaliser.
  """
  if sigma <= 0:
    raise ValueError(f"sigma must be > 0, got {sigma!r}")
  x = jnp.abs(predictions - targets)
  beta = 1.0 / (sigma * sigma)
  return jnp.where(x < beta, 0.5 * x * x / beta, x - 0.5 * beta)


def _reduce(losses: jax.Array, reduction: str, weights: jax.Array | None) -> jax.Array:
  """Applies per-example weights and the reduction."""
  if weights is not None:
    if weights.shape != losses.shape:
      raise ValueError(f"weights must have shape {losses.shape}, got {weights.shape}")
    losses = losses * weights
  if reduction == "none":
    return losses
  total = jnp.sum(losses)
  if reduction == "sum":
    return total
  if weights is None:
    return total / losses.size
  count = jnp.sum(weights)
  return jnp.where(count > 0, total / jnp.where(count > 0, count, 1), 0.0)


def _path_names(path) -> tuple[str, ...]:
  """A pytree key path as plain strings: ('params', 'Conv_0', 'kernel')."""
  names = []
  for key in path:
    if isinstance(key, jax.tree_util.DictKey):
      names.append(str(key.key))
    elif isinstance(key, jax.tree_util.GetAttrKey):
      names.append(key.name)
    elif isinstance(key, jax.tree_util.SequenceKey):
      names.append(str(key.idx))
    else:
      names.append(str(key))
  return tuple(names)


def l2_penalty(params: Any,
               subset: str | Callable[[tuple[str, ...], jax.Array], bool] = "kernels"
               ) -> jax.Array:
  """0.5 * sum(w ** 2) over a subset of the parameters (`tf.nn.l2_loss`'s convention).

  Multiply by the weight decay yourself (the classic TF MNIST tutorial uses 5e-4
  with subset="dense").

  Args:
    params: a Flax params pytree (with or without the top-level 'params' key).
    subset: which leaves to penalise:
      "kernels": every leaf named `kernel` (conv and dense; no biases, no
        batch-norm scales) — the usual weight decay;
      "dense": only 2-D `kernel` leaves, the fully connected layers;
      "all": every leaf;
      or a callable (path, leaf) -> bool, path being the key names as strings,
      e.g. ('params', 'Conv_0', 'kernel').

  Returns:
    A float32 scalar; 0 when nothing is selected.
  """
  select = _selector(subset)
  leaves, _ = jax.tree_util.tree_flatten_with_path(params)
  total = jnp.zeros((), jnp.float32)
  for path, leaf in leaves:
    if select(_path_names(path), leaf):
      total += 0.5 * jnp.sum(jnp.square(leaf.astype(jnp.float32)))
  return total


def penalised(params: Any,
              subset: str | Callable[[tuple[str, ...], jax.Array], bool] = "kernels") -> Any:
  """Which leaves `l2_penalty(params, subset)` penalises, as a tree of bools: the mask
  of AdamW's decoupled decay (`optax.adamw(mask=...)`), so both decays take the same."""
  select = _selector(subset)
  return jax.tree_util.tree_map_with_path(
      lambda path, leaf: bool(select(_path_names(path), leaf)), params)


def _selector(subset) -> Callable[[tuple[str, ...], jax.Array], bool]:
  if callable(subset):
    return subset
  if subset in _SUBSETS:
    return _SUBSETS[subset]
  raise ValueError(f"subset must be one of {tuple(_SUBSETS)} or a callable, got {subset!r}")
