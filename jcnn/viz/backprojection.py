"""Deconvnet, guided backpropagation and the gradient: one backward pass, three ReLU rules.

Zeiler & Fergus (2014) project an activation back to pixels by reversing each layer:
unpool with the max-pooling switches, rectify, filter with the transposed kernels.
Unpooling with switches is exactly max pooling's gradient (the signal goes to the
window's argmax, zeros elsewhere) and filtering with the transposed kernels is exactly
a convolution's, so a deconvnet is the network's VJP with one rule changed: a ReLU
passes relu(g) down (the reconstruction is rectified; the forward pass's mask is not
used) instead of g · [x > 0]. Guided backpropagation (Springenberg et al. 2015) keeps
both masks: g · [x > 0] · [g > 0].

The rules are applied to the model's jaxpr (`jcnn.analysis.jaxpr_walk`): every
`max(x, 0)` — `jax.nn.relu`, `jnp.maximum(x, 0)`, the lower half of relu6 — takes the
chosen backward rule, so they reach every ReLU of any model, with no hooks and no
change to its layers. A model without max pooling has no switches: its deconvnet
unpools by the transposed strides and averages (what their gradients do);
`Backprojector.has_switches` says which.
"""
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.analysis import jaxpr_walk

RULES = ("gradient", "deconvnet", "guided")


def _check_rule(rule: str) -> None:
  if rule not in RULES:
    raise ValueError(f"unknown backward rule {rule!r}; choose one of {', '.join(RULES)}")


def _rectifier(rule: str) -> Callable:
  """ReLU whose backward pass follows `rule` ("deconvnet" or "guided")."""

  @jax.custom_vjp
  def relu(x):
    return jnp.maximum(x, 0)

  def forward(x):
    return relu(x), x

  def backward(x, g):
    if rule == "deconvnet":
      return (jnp.maximum(g, 0),)
    return (jnp.where((x > 0) & (g > 0), g, 0).astype(g.dtype),)

  relu.defvjp(forward, backward)
  return relu


def _zero_operand(node: jaxpr_walk.Node, zeros: set) -> int | None:
  """Which operand of a `max` node is a constant zero (a ReLU's), or None."""
  for i, v in enumerate(node.inputs):
    if isinstance(v, jaxpr_walk.Const) and np.all(np.asarray(v.val) == 0):
      return i
    if isinstance(v, jaxpr_walk.Value) and v.id in zeros:
      return i
  return None


def _replacements(graph: jaxpr_walk.Graph, rule: str) -> dict:
  """`jaxpr_walk.evaluate`'s replacements that give every ReLU the rule's backward."""
  if rule == "gradient":
    return {}
  relu = _rectifier(rule)
  zeros = {v.id for v, value in graph.consts
           if np.ndim(value) == 0 and np.asarray(value) == 0}

  def rectify(node, *inputs):
    zero = _zero_operand(node, zeros)
    if zero is None or len(inputs) != 2:
      return [node.primitive.bind(*inputs, **node.params)]
    x = inputs[1 - zero]
    return [relu(jnp.broadcast_to(x, node.outputs[0].shape))]

  return {"max": rectify}


class Backprojector:
  """Projects a signal on `fn`'s output down to its input with one backward rule.

  `fn(variables, x)` is traced once per input shape and the projection compiled once;
  the variables are arguments, not constants, so XLA does not fold them.

  Attributes:
    rule: "gradient", "deconvnet" or "guided".
  """

  def __init__(self, fn: Callable, variables, rule: str = "deconvnet"):
    _check_rule(rule)
    self.fn, self.variables, self.rule = fn, variables, rule
    self._leaves = jax.tree.leaves(variables)
    self._compiled: dict = {}

  def _program(self, x: jax.Array):
    key = (tuple(x.shape), np.dtype(x.dtype))
    if key not in self._compiled:
      graph, _, _ = jaxpr_walk.trace_model(self.fn, x, self.variables)
      if len(graph.outputs) != 1:
        raise ValueError(f"fn returns {len(graph.outputs)} arrays; return the one to project")
      replace = _replacements(graph, self.rule)

      def project(leaves, consts, x, seed):
        forward = lambda x: jaxpr_walk.evaluate(graph, [*leaves, x], consts, replace)[0]
        _, vjp = jax.vjp(forward, x)
        return vjp(seed.astype(graph.outputs[0].aval.dtype))[0]

      self._compiled[key] = (graph, jax.jit(project))
    return self._compiled[key]

  def has_switches(self, x: jax.Array) -> bool:
    """Whether `fn` max-pools, so that unpooling has switches to follow."""
    graph, _ = self._program(x)
    return any(n.name == "reduce_window_max" for n in graph.nodes)

  def __call__(self, x: jax.Array, seed: jax.Array) -> jax.Array:
    """The projection of `seed` (shaped like `fn`'s output) onto `x`'s space.

    Images of a batch are projected independently: the batch's projection is each
    image's own (for models without batch-coupled layers at test time).
    """
    graph, project = self._program(x)
    out = graph.outputs[0]
    if tuple(seed.shape) != out.shape:
      raise ValueError(f"seed has shape {tuple(seed.shape)}; fn's output is {out.shape}")
    return project(self._leaves, graph.const_values, x, seed)


def keep_units(y: jax.Array, indices) -> jax.Array:
  """`y` with every activation zeroed but those at `indices` (ZF: "all other
  activations in the layer set to zero"); indices: one index tuple per unit kept,
  e.g. (image, row, column, channel)."""
  seed = jnp.zeros_like(y)
  index = tuple(np.asarray(i) for i in zip(*indices))
  return seed.at[index].set(y[index])


def keep_channel(y: jax.Array, channel: int) -> jax.Array:
  """`y` with every feature map zeroed but `channel` (a whole map projected at once)."""
  if not 0 <= channel < y.shape[-1]:
    raise ValueError(f"channel {channel} out of range: the layer has {y.shape[-1]}")
  return jnp.zeros_like(y).at[..., channel].set(y[..., channel])


def class_projections(logits_fn: Callable, variables, x: jax.Array, labels,
                      rules=RULES) -> dict[str, np.ndarray]:
  """Each rule's projection of the class scores `labels` onto the images `x`.

  "gradient" is the saliency of Simonyan et al. (2014): the class score's gradient;
  "guided" and "deconvnet" project the same score with their ReLU rules.

  Args:
    logits_fn: (variables, x) -> logits [B, classes].
    x: images [B, H, W, C]; labels: one class per image.

  Returns:
    {rule: [B, H, W, C]}.
  """
  labels = np.asarray(labels)
  num_classes = jax.eval_shape(logits_fn, variables, x).shape[-1]
  if np.any((labels < 0) | (labels >= num_classes)):
    raise ValueError(f"class labels {labels.tolist()} out of range for {num_classes} classes")
  seed = jax.nn.one_hot(labels, num_classes)
  return {rule: np.asarray(Backprojector(logits_fn, variables, rule)(x, seed)) for rule in rules}
