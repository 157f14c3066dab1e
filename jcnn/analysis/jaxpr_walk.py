"""A function's jaxpr as one flat graph: the traversal every analysis here shares.

`jax.make_jaxpr` nests the computation in sub-jaxprs (`jit`, `custom_jvp_call`,
`custom_vjp_call`, `closed_call`, `checkpoint`); `trace` inlines them, so an analysis
sees every primitive of a Flax model, a hand-written `lax` function or anything in
between in one list, in data-flow order, each with the Flax module path it ran in.
Control flow (`cond`, `scan`, `while`) stays one node holding its flattened bodies.
"""
import dataclasses
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.extend import core

from jcnn import kernels

# Call-like primitives and the parameter holding the jaxpr they call: inlined.
_CALLS = {
    "jit": "jaxpr",
    "pjit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "custom_vjp_call_jaxpr": "fun_jaxpr",
    "checkpoint": "jaxpr",
    "remat2": "jaxpr",
}


@dataclasses.dataclass(frozen=True, eq=False)
class Value:
  """An array produced or consumed in the graph (one jaxpr variable, renamed)."""
  id: int
  aval: Any

  @property
  def shape(self) -> tuple[int, ...]:
    return tuple(self.aval.shape)

  @property
  def nbytes(self) -> int:
    return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.aval.dtype).itemsize


@dataclasses.dataclass(frozen=True, eq=False)
class Const:
  """A literal operand: a scalar written into the jaxpr."""
  val: Any
  aval: Any

  @property
  def shape(self) -> tuple[int, ...]:
    return tuple(self.aval.shape)


@dataclasses.dataclass(eq=False)
class Node:
  """One primitive application.

  Attributes:
    index: position in data-flow order within its graph.
    primitive: the JAX primitive; `primitive.name` is e.g. "conv_general_dilated".
    params: the primitive's parameters, as in the jaxpr.
    inputs, outputs: operands (Values or literal Consts) and results.
    scope: the Flax module path (name stack) it ran in, e.g. "ResNet/layer1_0/conv1".
    call: the innermost named function it ran in ("relu", "gelu", ...), or "".
    bodies: flattened sub-graphs of control flow (cond branches, scan/while bodies).
  """
  index: int
  primitive: Any
  params: dict
  inputs: tuple
  outputs: tuple
  scope: str
  call: str
  bodies: tuple = ()

  @property
  def name(self) -> str:
    return self.primitive.name


@dataclasses.dataclass(eq=False)
class Graph:
  """A flattened jaxpr.

  Attributes:
    inputs: the function's arguments, flattened.
    consts: the arrays the function closes over, with their values.
    outputs: the results (Values, or Consts when a result is a literal).
    nodes: primitive applications in data-flow order.
  """
  inputs: list
  consts: list
  outputs: list
  nodes: list

  @property
  def const_values(self) -> list:
    return [v for _, v in self.consts]

  @property
  def const_vars(self) -> list:
    return [c for c, _ in self.consts]


def _join(outer: str, inner: str) -> str:
  return "/".join(s for s in (outer, inner) if s)


class _Flattener:
  """Renames variables to graph-wide Values while inlining call primitives."""

  def __init__(self):
    self._count = 0

  def new(self, aval) -> Value:
    self._count += 1
    return Value(self._count, aval)

  def graph(self, jaxpr, consts: Sequence = ()) -> Graph:
    env = {}
    graph = Graph([], [], [], [])
    for var, val in zip(jaxpr.constvars, consts):
      env[var] = self.new(var.aval)
      graph.consts.append((env[var], val))
    for var in jaxpr.invars:
      env[var] = self.new(var.aval)
      graph.inputs.append(env[var])
    self._walk(jaxpr, env, graph, "", "")
    graph.outputs = [self._read(env, v) for v in jaxpr.outvars]
    return graph

  @staticmethod
  def _read(env, var):
    if isinstance(var, core.Literal):
      return Const(var.val, var.aval)
    return env[var]

  def _walk(self, jaxpr, env, graph: Graph, scope: str, call: str):
    for eqn in jaxpr.eqns:
      inputs = tuple(self._read(env, v) for v in eqn.invars)
      eqn_scope = _join(scope, str(eqn.source_info.name_stack))
      sub = eqn.params.get(_CALLS.get(eqn.primitive.name, ""))
      if sub is not None:
        inner, sub_consts = (sub.jaxpr, sub.consts) if hasattr(sub, "consts") else (sub, ())
        sub_env = {}
        for var, val in zip(inner.constvars, sub_consts):
          sub_env[var] = self.new(var.aval)
          graph.consts.append((sub_env[var], val))
        sub_env.update(zip(inner.invars, inputs))
        name = eqn.params.get("name", call)
        self._walk(inner, sub_env, graph, eqn_scope, name if isinstance(name, str) else call)
        for out, var in zip(eqn.outvars, inner.outvars):
          env[out] = self._read(sub_env, var)
        continue
      outputs = tuple(self.new(v.aval) for v in eqn.outvars)
      env.update(zip(eqn.outvars, outputs))
      bodies = tuple(self.graph(*j) for j in sub_jaxprs(eqn.params))
      graph.nodes.append(Node(len(graph.nodes), eqn.primitive, dict(eqn.params), inputs,
                              outputs, eqn_scope, call, bodies))


def sub_jaxprs(params: dict) -> list[tuple]:
  """(jaxpr, consts) of every jaxpr among a primitive's parameters, in order."""
  found = []
  for value in params.values():
    for item in value if isinstance(value, (tuple, list)) else (value,):
      if isinstance(item, core.ClosedJaxpr):
        found.append((item.jaxpr, item.consts))
      elif isinstance(item, core.Jaxpr):
        found.append((item, ()))
  return found


def flatten(closed_jaxpr) -> Graph:
  """Flattens a ClosedJaxpr into a Graph, inlining every call primitive."""
  return _Flattener().graph(closed_jaxpr.jaxpr, closed_jaxpr.consts)


def trace(fn: Callable, *args) -> Graph:
  """The flattened graph of `fn(*args)`; args may be arrays or ShapeDtypeStructs.

  jcnn's convolutions stay convolutions here (not the banded GEMMs or oneDNN calls
  they run as on the CPU), so the analyses read their geometry. The fresh function keeps JAX from
  reusing a trace of `fn` made outside that context.
  """
  with kernels.use("xla"):
    return flatten(jax.make_jaxpr(lambda *a: fn(*a))(*args))


def abstract(x) -> jax.ShapeDtypeStruct:
  """The shape and dtype of an array-like (array, ShapeDtypeStruct, NumPy array)."""
  if not hasattr(x, "shape") or not hasattr(x, "dtype"):
    raise ValueError(f"expected an array or jax.ShapeDtypeStruct, got {type(x).__name__}")
  return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)


def trace_model(fn: Callable, x, variables=None) -> tuple[Graph, list, Value]:
  """Traces `fn(x)`, or `fn(variables, x)` when `variables` is given.

  Returns:
    (graph, leaves, x_value): `leaves` pairs each variable Value with its key path
    (closed-over constants get paths "const_0", "const_1", ...); `x_value` is the
    graph input holding `x`.
  """
  x = abstract(x)
  if variables is None:
    graph = trace(fn, x)
    leaves = [(f"const_{i}", v) for i, v in enumerate(graph.const_vars)]
    return graph, leaves, graph.inputs[0]
  shapes = jax.tree.map(abstract, variables)
  graph = trace(fn, shapes, x)
  paths = [jax.tree_util.keystr(p, simple=True, separator="/")
           for p, _ in jax.tree_util.tree_flatten_with_path(shapes)[0]]
  leaves = list(zip(paths, graph.inputs[:-1]))
  leaves += [(f"const_{i}", v) for i, v in enumerate(graph.const_vars)]
  return graph, leaves, graph.inputs[-1]


def depends_on(graph: Graph, sources: Sequence[Value]) -> set[int]:
  """Ids of the Values computed from any of `sources` (the sources included)."""
  reached = {v.id for v in sources}
  for node in graph.nodes:
    if any(isinstance(v, Value) and v.id in reached for v in node.inputs):
      reached.update(v.id for v in node.outputs)
  return reached


def ancestors(graph: Graph, targets: Sequence) -> set[int]:
  """Indices of the nodes whose results feed any of `targets`."""
  needed = {v.id for v in targets if isinstance(v, Value)}
  keep = set()
  for node in reversed(graph.nodes):
    if any(v.id in needed for v in node.outputs):
      keep.add(node.index)
      needed.update(v.id for v in node.inputs if isinstance(v, Value))
  return keep


def evaluate(graph: Graph, args: Sequence, consts: Sequence | None = None,
             replace: dict[str, Callable] | None = None) -> list:
  """Runs the graph on `args` (traceable: works under jit, grad and vjp).

  Args:
    graph: a flattened graph.
    args: one array per graph input.
    consts: replacements for the closed-over constants (default: their values).
    replace: {primitive name: fn(node, *inputs) -> list of outputs} to run
      instead of a primitive (e.g. a max pool replaced by a sum pool).

  Returns:
    The graph's outputs, as a list.
  """
  consts = graph.const_values if consts is None else consts
  env = {v.id: a for v, a in zip(graph.const_vars, consts)}
  env.update((v.id, a) for v, a in zip(graph.inputs, args))
  read = lambda v: v.val if isinstance(v, Const) else env[v.id]
  replace = replace or {}
  for node in graph.nodes:
    inputs = [read(v) for v in node.inputs]
    if node.name in replace:
      outputs = replace[node.name](node, *inputs)
    else:
      outputs = node.primitive.bind(*inputs, **node.params)
      if not node.primitive.multiple_results:
        outputs = [outputs]
    env.update((v.id, o) for v, o in zip(node.outputs, outputs))
  return [read(v) for v in graph.outputs]


def label(node: Node) -> str:
  """A short readable name for what a node does ("conv", "max_pool", "relu" ...)."""
  return _LABELS.get(node.name, node.name)


_LABELS = {
    "conv_general_dilated": "conv",
    "dot_general": "dense",
    "reduce_window_max": "max_pool",
    "reduce_window_min": "min_pool",
    "reduce_window_sum": "sum_pool",
    "reduce_window": "window_reduce",
    "reduce_sum": "sum",
    "reduce_max": "max",
    "concatenate": "concat",
}
