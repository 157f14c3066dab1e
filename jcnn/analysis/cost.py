"""Parameters, multiply-accumulates, FLOPs and activation memory of any JAX model.

Counted from the jaxpr, primitive by primitive, with these conventions:

- MACs: convolutions and dot products only (`conv_general_dilated`,
  `dot_general`): output elements × kernel taps × input channels per group. Taps
  that land on padding count, as in torchvision's and fvcore's tables (whose
  "GFLOPS" are these MACs).
- FLOPs: 2 per MAC (1 MAC = 1 multiply + 1 add), plus 1 per output element of
  every arithmetic elementwise op (bias add, ReLU, normalisation, softmax), plus
  window size per output of pooling (`reduce_window_*`) and 1 per input element of
  reductions (global pooling, means). Data movement (reshape, transpose,
  broadcast, pad, slice, concatenate, select, type conversion) is free. Pooling,
  normalisation and activations therefore count as FLOPs but not as MACs.
- Parameters: the elements of the trainable variables (the "params" collection
  when `variables` is a Flax dict, else every floating-point array `fn` closes
  over); each is charged to the layer that first reads it.
- Activation bytes: per layer, the bytes of its outputs that later layers read.
- Residual bytes: what backpropagation keeps from the forward pass: the residuals
  of `jax.vjp` with respect to the parameters, counting only arrays computed from
  the input (the parameters and the input itself are held anyway).

`cost` also compiles the forward pass with XLA (unless `compare_xla=False`) and
reports XLA's own `cost_analysis()` FLOPs and `memory_analysis()` sizes beside
ours. XLA counts only the convolution taps that land on real input, not on
padding; `unpadded_flops` counts the same way and agrees with XLA within 1% on
the models of the tests.
"""
import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.analysis import jaxpr_walk
from jcnn.analysis.jaxpr_walk import Graph, Node, Value

# Primitives that move or relabel data without arithmetic.
_FREE = frozenset({
    "reshape", "broadcast_in_dim", "transpose", "squeeze", "expand_dims",
    "convert_element_type", "copy", "pad", "slice", "dynamic_slice",
    "dynamic_update_slice", "gather", "concatenate", "select_n", "iota", "rev", "split",
    "tile", "bitcast_convert_type", "reduce_precision", "stop_gradient",
    "sharding_constraint", "device_put", "optimization_barrier",
    "random_bits", "random_seed", "random_wrap", "random_unwrap", "threefry2x32",
    "rng_bit_generator", "shift_right_logical", "shift_left", "and", "or", "not", "xor",
})
# Layers whose outputs keep their own row even inside one module (see `_rows`).
_ANCHORS = frozenset({
    "conv_general_dilated", "dot_general", "reduce_window", "reduce_window_max",
    "reduce_window_min", "reduce_window_sum", "reduce_sum", "reduce_max", "reduce_min",
    "reduce_prod", "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "sort",
    "cond", "scan", "while",
})


def _size(shape) -> int:
  return int(np.prod(shape, dtype=np.int64))


def _conv_taps(node: Node, padded: bool) -> int:
  """Kernel taps summed over the output positions of one convolution image and
  channel: all of them, or (padded=False) only those landing on real input."""
  p = node.params
  lhs, rhs, out = node.inputs[0].shape, node.inputs[1].shape, node.outputs[0].shape
  lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
  taps = 1
  for i in range(len(lhs_spec) - 2):
    k, n_out = rhs[rhs_spec[2 + i]], out[out_spec[2 + i]]
    if padded:
      taps *= k * n_out
      continue
    n_in, lhs_dil = lhs[lhs_spec[2 + i]], p["lhs_dilation"][i]
    pos = (np.arange(n_out)[:, None] * p["window_strides"][i] - p["padding"][i][0]
           + np.arange(k)[None, :] * p["rhs_dilation"][i])
    taps *= int(((pos >= 0) & (pos <= (n_in - 1) * lhs_dil) & (pos % lhs_dil == 0)).sum())
  return taps


def node_cost(node: Node, padded: bool = True) -> tuple[int, int]:
  """(MACs, FLOPs) of one node, by the conventions of this module.

  padded=False counts only the convolution taps that land on real input (not on
  padding or on the zeros of a dilated input), as XLA's cost analysis does.
  """
  name = node.name
  out = node.outputs[0].shape if node.outputs else ()
  if name == "conv_general_dilated":
    rhs = node.inputs[1].shape
    lhs_spec, rhs_spec, out_spec = node.params["dimension_numbers"]
    macs = (out[out_spec[0]] * out[out_spec[1]] * rhs[rhs_spec[1]]
            * _conv_taps(node, padded))
    return macs, 2 * macs
  if name == "dot_general":
    (lhs_contract, _), _ = node.params["dimension_numbers"]
    macs = _size(out) * _size([node.inputs[0].shape[d] for d in lhs_contract])
    return macs, 2 * macs
  if name.startswith("reduce_window"):
    return 0, _size(out) * _size(node.params["window_dimensions"]) * len(node.outputs)
  if name in _ANCHORS and name not in ("cond", "scan", "while"):
    return 0, _size(node.inputs[0].shape)
  if name == "cond":
    return tuple(max(c) for c in zip(*(_graph_cost(b, padded) for b in node.bodies)))
  if name == "scan":
    macs, flops = _graph_cost(node.bodies[0], padded)
    return macs * node.params["length"], flops * node.params["length"]
  if name == "while":  # trip count unknown before running: one pass of the body
    return tuple(sum(c) for c in zip(*(_graph_cost(b, padded) for b in node.bodies)))
  if name in _FREE or not node.outputs:
    return 0, 0
  return 0, sum(_size(v.shape) for v in node.outputs)


def _graph_cost(graph: Graph, padded: bool = True) -> tuple[int, int]:
  costs = [node_cost(n, padded) for n in graph.nodes]
  return sum(c[0] for c in costs), sum(c[1] for c in costs)


@dataclasses.dataclass(frozen=True)
class LayerCost:
  """Cost of one layer: the ops of one module call, or one pooling/reduction.

  Attributes:
    name: the Flax module path, with the op when a module holds several layers.
    ops: the primitives it runs, in order.
    params: trainable parameters it reads first.
    macs, flops: multiply-accumulates and FLOPs (module docstring: conventions).
    activation_bytes: bytes of its outputs that later layers read.
    output_shape: shape of its (last) output.
  """
  name: str
  ops: tuple
  params: int
  macs: int
  flops: int
  activation_bytes: int
  output_shape: tuple

  def as_dict(self) -> dict:
    return {"name": self.name, "params": self.params, "macs": self.macs, "flops": self.flops,
            "activation_bytes": self.activation_bytes,
            "output_shape": list(self.output_shape)}


@dataclasses.dataclass(frozen=True)
class CostReport:
  """Per-layer and total cost of one forward pass on a batch.

  Attributes:
    layers: LayerCost rows in data-flow order.
    batch_size: the leading dimension of the input it was counted for.
    params: trainable parameters (all of them, read or not).
    param_bytes: their bytes; `state_bytes`: bytes of the other variables
      (e.g. BatchNorm statistics).
    macs, flops: totals over the layers.
    unpadded_macs, unpadded_flops: the same counting only convolution taps that
      land on real input, as XLA's cost analysis counts (compare with xla_flops).
    activation_bytes: sum of the layers' activation bytes (every intermediate
      output, as if none were freed).
    input_bytes, output_bytes: bytes of the input batch and of the result.
    residual_bytes: bytes backpropagation keeps from the forward pass (input-
      dependent residuals of `jax.vjp`; module docstring).
    xla_flops: XLA's `cost_analysis()["flops"]` of the compiled forward pass.
    xla_memory: XLA's `memory_analysis()` sizes of the compiled forward pass.
  """
  layers: list
  batch_size: int
  params: int
  param_bytes: int
  state_bytes: int
  macs: int
  flops: int
  unpadded_macs: int
  unpadded_flops: int
  activation_bytes: int
  input_bytes: int
  output_bytes: int
  residual_bytes: int | None
  xla_flops: float | None = None
  xla_memory: dict | None = None

  def layer(self, name: str) -> LayerCost:
    for row in self.layers:
      if row.name == name:
        return row
    raise ValueError(f"no layer named {name!r}; layers: {[r.name for r in self.layers]}")

  def total(self) -> dict:
    fields = dataclasses.asdict(self)
    del fields["layers"]
    return fields

  def as_dict(self) -> dict:
    """JSON-ready: {"layers": [...], "total": {...}}."""
    return {"layers": [r.as_dict() for r in self.layers], "total": self.total()}

  def __str__(self) -> str:
    lines = [("layer", "output", "params", "MACs", "FLOPs", "activations")]
    for r in self.layers:
      lines.append((r.name, "x".join(map(str, r.output_shape)), f"{r.params:,}",
                    f"{r.macs:,}", f"{r.flops:,}", _bytes(r.activation_bytes)))
    lines.append(("total", "", f"{self.params:,}", f"{self.macs:,}", f"{self.flops:,}",
                  _bytes(self.activation_bytes)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "-" * len(text[0]))
    text.insert(-1, "-" * len(text[0]))
    kept = ("" if self.residual_bytes is None
            else f", kept for backprop {_bytes(self.residual_bytes)}")
    text.append(f"batch {self.batch_size}: {_si(self.macs)}MACs, {_si(self.flops)}FLOPs; "
                f"parameters {_bytes(self.param_bytes)}, input {_bytes(self.input_bytes)}"
                f"{kept}")
    if self.xla_flops is not None:
      text.append(f"XLA: {_si(self.xla_flops)}FLOPs (ours without padding taps: "
                  f"{_si(self.unpadded_flops)}FLOPs); temp "
                  f"{_bytes(self.xla_memory['temp_bytes'])}, arguments "
                  f"{_bytes(self.xla_memory['argument_bytes'])}, outputs "
                  f"{_bytes(self.xla_memory['output_bytes'])}")
    return "\n".join(text)


def _si(n: float) -> str:
  for unit in ("", "K", "M", "G"):
    if abs(n) < 1000 or unit == "G":
      return f"{n:.0f} {unit}" if unit == "" else f"{n:.2f} {unit}"
    n /= 1000


def _bytes(n: float) -> str:
  for unit in ("B", "KiB", "MiB", "GiB"):
    if abs(n) < 1024 or unit == "GiB":
      return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
    n /= 1024


@dataclasses.dataclass
class TracedModel:
  """A traced function with its variables sorted into trainable and the rest."""
  graph: Graph
  x: Value
  leaf_values: list        # graph Values of the variables (args, then closed-over)
  trainable: list          # bool per leaf


def trace(fn: Callable, x, variables=None) -> TracedModel:
  """Traces `fn(x)` (or `fn(variables, x)`) and sorts its variables."""
  graph, leaves, x_value = jaxpr_walk.trace_model(fn, x, variables)
  has_params = isinstance(variables, dict) and "params" in variables
  trainable = []
  for path, value in leaves:
    floating = jnp.issubdtype(value.aval.dtype, jnp.floating)
    in_params = path == "params" or path.startswith("params/")
    trainable.append(floating and (in_params or not has_params))
  return TracedModel(graph, x_value, [v for _, v in leaves], trainable)


def batched(x, batch_size: int | None):
  """`x` as a ShapeDtypeStruct, its leading (batch) dimension set to `batch_size`."""
  x = jaxpr_walk.abstract(x)
  if batch_size is None:
    return x
  if batch_size < 1 or not x.shape:
    raise ValueError(f"batch_size must be >= 1 for an input with a batch dimension, "
                     f"got {batch_size} for shape {x.shape}")
  return jax.ShapeDtypeStruct((batch_size, *x.shape[1:]), x.dtype)


def graph_fn(model: TracedModel) -> Callable:
  """fn(trainable leaves, other leaves, x) running the traced graph."""
  graph = model.graph
  n_args = len(graph.inputs) - 1
  trainable_ids = [v.id for v, t in zip(model.leaf_values, model.trainable) if t]

  def fn(trainable, others, x):
    values = dict(zip(trainable_ids, trainable))
    others = iter(others)
    for v in model.leaf_values:
      if v.id not in values:
        values[v.id] = next(others)
    args = [values[v.id] for v in graph.inputs[:n_args]] + [x]
    consts = [values.get(v.id, c) for v, c in graph.consts]
    return jaxpr_walk.evaluate(graph, args, consts)

  return fn


def split_leaves(model: TracedModel) -> tuple[list, list]:
  """Abstract (trainable, other) variable leaves, in the order `graph_fn` takes."""
  abstract = lambda v: jax.ShapeDtypeStruct(v.shape, v.aval.dtype)
  trainable = [abstract(v) for v, t in zip(model.leaf_values, model.trainable) if t]
  others = [abstract(v) for v, t in zip(model.leaf_values, model.trainable) if not t]
  return trainable, others


def residual_bytes(model: TracedModel) -> int:
  """Bytes of the input-dependent arrays `jax.vjp` keeps to backpropagate to the
  trainable parameters."""
  fn = graph_fn(model)
  trainable, others = split_leaves(model)
  x = jax.ShapeDtypeStruct(model.x.shape, model.x.aval.dtype)

  def residuals(trainable, others, x):
    _, vjp = jax.vjp(lambda t: fn(t, others, x), trainable)
    return jax.tree.leaves(vjp)

  graph = jaxpr_walk.trace(residuals, trainable, others, x)
  x_dependent = jaxpr_walk.depends_on(graph, [graph.inputs[-1]])
  inputs = {v.id for v in graph.inputs}
  kept = {v.id: v for v in graph.outputs
          if isinstance(v, Value) and v.id in x_dependent and v.id not in inputs}
  return sum(v.nbytes for v in kept.values())


def xla_forward(model: TracedModel) -> tuple[float, dict]:
  """XLA's FLOPs and memory sizes of the compiled forward pass."""
  trainable, others = split_leaves(model)
  x = jax.ShapeDtypeStruct(model.x.shape, model.x.aval.dtype)
  compiled = jax.jit(graph_fn(model)).lower(trainable, others, x).compile()
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float(analysis.get("flops", 0.0)), memory_sizes(compiled)


def memory_sizes(compiled) -> dict:
  """The sizes of XLA's `memory_analysis()` as a dict of ints, with their sum."""
  m = compiled.memory_analysis()
  sizes = {"argument_bytes": int(m.argument_size_in_bytes),
           "output_bytes": int(m.output_size_in_bytes),
           "alias_bytes": int(m.alias_size_in_bytes),
           "temp_bytes": int(m.temp_size_in_bytes)}
  sizes["total_bytes"] = (sizes["argument_bytes"] + sizes["output_bytes"]
                          - sizes["alias_bytes"] + sizes["temp_bytes"])
  return sizes


def cost(fn: Callable, x, *, variables=None, batch_size: int | None = None,
         compare_xla: bool = True, backprop: bool = True) -> CostReport:
  """Per-layer and total parameters, MACs, FLOPs and activation memory of `fn`.

  Args:
    fn: any function of one array (e.g. `lambda x: model.apply(variables, x)`), or
      of `(variables, x)` when `variables` is given.
    x: the input [batch, ...] (array or jax.ShapeDtypeStruct; only its shape and
      dtype are used).
    variables: optional pytree passed as fn's first argument; with a Flax dict its
      "params" collection is the trainable part, the rest (batch statistics) is
      state. Arrays or ShapeDtypeStructs: nothing is computed.
    batch_size: replaces the leading dimension of `x` (default: keep it).
    compare_xla: also compile the forward pass and report XLA's own FLOPs and
      memory sizes (seconds for big models).
    backprop: also count the bytes kept for backpropagation (fn must be
      differentiable); False leaves `residual_bytes` None.

  Returns:
    A CostReport (module docstring: what is counted and how).
  """
  x = batched(x, batch_size)
  model = trace(fn, x, variables)
  graph = model.graph
  if len(graph.outputs) < 1:
    raise ValueError("fn returns nothing")
  rows = _rows(model)
  trainable = [v for v, t in zip(model.leaf_values, model.trainable) if t]
  state = [v for v, t in zip(model.leaf_values, model.trainable) if not t]
  outputs = [v for v in graph.outputs if isinstance(v, Value)]
  unpadded = _graph_cost(graph, padded=False)
  xla_flops = xla_memory = None
  if compare_xla:
    xla_flops, xla_memory = xla_forward(model)
  return CostReport(
      layers=rows, batch_size=x.shape[0] if x.shape else 1,
      params=sum(_size(v.shape) for v in trainable),
      param_bytes=sum(v.nbytes for v in trainable), state_bytes=sum(v.nbytes for v in state),
      macs=sum(r.macs for r in rows), flops=sum(r.flops for r in rows),
      unpadded_macs=unpadded[0], unpadded_flops=unpadded[1],
      activation_bytes=sum(r.activation_bytes for r in rows),
      input_bytes=model.x.nbytes, output_bytes=sum(v.nbytes for v in outputs),
      residual_bytes=residual_bytes(model) if backprop else None, xla_flops=xla_flops,
      xla_memory=xla_memory)


def _rows(model: TracedModel) -> list[LayerCost]:
  """Groups the nodes into layers.

  A layer is a run of consecutive nodes in one module scope. A module without
  sub-modules (nn.Conv, nn.BatchNorm) is one layer; in a module that also calls
  sub-modules, each pooling, reduction, convolution or dense op written inline
  starts its own layer, taking along the elementwise ops (ReLU) just before it.
  """
  graph = model.graph
  scopes = {n.scope for n in graph.nodes}
  parents = {s.rsplit("/", 1)[0] for s in scopes if "/" in s}
  groups: list[list[Node]] = []
  for node in graph.nodes:
    current = groups[-1] if groups else None
    inline = node.scope in parents or not node.scope  # ops written in a module's __call__
    second_anchor = (inline and node.name in _ANCHORS
                     and any(n.name in _ANCHORS for n in current or ()))
    if current is None or current[0].scope != node.scope or second_anchor:
      groups.append([node])
    else:
      current.append(node)

  x_dependent = jaxpr_walk.depends_on(graph, [model.x])
  first_reader = {}
  for node in graph.nodes:
    for v in node.inputs:
      if isinstance(v, Value):
        first_reader.setdefault(v.id, node.index)
  group_of = {n.index: g for g, nodes in enumerate(groups) for n in nodes}
  params_of = [0] * len(groups)
  for v, t in zip(model.leaf_values, model.trainable):
    if t and v.id in first_reader:
      params_of[group_of[first_reader[v.id]]] += _size(v.shape)
  readers: dict[int, set] = {}
  for node in graph.nodes:
    for v in node.inputs:
      if isinstance(v, Value):
        readers.setdefault(v.id, set()).add(group_of[node.index])
  results = {v.id for v in graph.outputs if isinstance(v, Value)}

  rows = []
  names = _names(groups, parents)
  for g, (nodes, name) in enumerate(zip(groups, names)):
    macs = flops = act = 0
    for node in nodes:
      m, f = node_cost(node)
      macs, flops = macs + m, flops + f
      for v in node.outputs:
        leaves_group = readers.get(v.id, set()) - {g} or v.id in results
        if v.id in x_dependent and leaves_group:
          act += v.nbytes
    rows.append(LayerCost(name, tuple(n.name for n in nodes), params_of[g], macs, flops,
                          act, nodes[-1].outputs[0].shape if nodes[-1].outputs else ()))
  return rows


def _names(groups: list, parents: set) -> list[str]:
  per_scope: dict[str, int] = {}
  for nodes in groups:
    per_scope[nodes[0].scope] = per_scope.get(nodes[0].scope, 0) + 1
  counters: dict[tuple, int] = {}
  names = []
  for nodes in groups:
    scope = nodes[0].scope
    if scope and per_scope[scope] == 1 and scope not in parents:
      names.append(scope)
      continue
    anchor = next((n for n in nodes if n.name in _ANCHORS), None)
    if anchor is not None:
      label = jaxpr_walk.label(anchor)
    else:
      named = next((n for n in nodes if n.call), None)
      label = named.call if named else jaxpr_walk.label(nodes[0])
    k = counters.get((scope, label), 0)
    counters[(scope, label)] = k + 1
    names.append("/".join(s for s in (scope, f"{label}_{k}") if s))
  return names
