"""Receptive fields of any JAX function of an image, read from its jaxpr.

Each window op (convolution, pooling, padding, slicing) applies the arithmetic of
`rf_arithmetic` with the sizes the jaxpr holds: 'SAME' padding needs no special case,
the jaxpr already holds the explicit padding for the actual input size.

Where paths meet (residual add, Inception concatenation) the rule of
google-research/receptive_field applies: the paths must have the same jump and the
same centre, and the largest field wins; misaligned paths raise ValueError (or, with
`strict=False`, merge into the box covering both). Ops that mix every position of an
axis (global pooling, a dense layer over flattened features) make that axis global:
its field is the whole input (r = input size, jump 0).
"""
import dataclasses
from typing import Callable, Sequence

import numpy as np

from jcnn.analysis import jaxpr_walk
from jcnn.analysis.jaxpr_walk import Graph, Node, Value
from jcnn.analysis.rf_arithmetic import window_field
from jcnn.analysis.rf_table import (AxisField, LayerField, OutputField, ReceptiveFieldTable,
                                    as_number, layer_row)


@dataclasses.dataclass(frozen=True)
class _Field:
  """The receptive field carried by one array.

  Attributes:
    axes: one AxisField per spatial axis of the input.
    dims: the array dimension holding each axis, None once reduced to one position.
    flat: per axis, whether its dimension was flattened together with others (a
      reshape to [batch, h * w * c]); positions there are no longer tracked.
  """
  axes: tuple
  dims: tuple
  flat: tuple


_TRIVIAL_WINDOW = (1, 1, (0, 0), 1, 1)


class _Propagator:
  """Carries fields forward through a flattened graph, recording the rows."""

  def __init__(self, input_size: tuple, strict: bool):
    self.input_size = input_size
    self.strict = strict
    # (top-level node, node, kind, axes, windows); the top-level node is the cond
    # holding `node` when it ran in a branch, else `node` itself.
    self.rows: list[tuple] = []
    self._top: Node | None = None

  def run(self, graph: Graph, fields: dict[int, _Field], top_level: bool = True) -> dict:
    for node in graph.nodes:
      ins = [fields.get(v.id) if isinstance(v, Value) else None for v in node.inputs]
      if all(f is None for f in ins):
        continue
      if top_level:
        self._top = node
      rule = getattr(self, _RULES.get(node.name, "_elementwise"))
      outs = rule(node, ins)
      fields.update((v.id, f) for v, f in zip(node.outputs, outs) if f is not None)
    return fields

  # -- helpers

  def _contract(self, f: _Field, axis: int, n_out: int = 1) -> AxisField:
    """An axis whose positions are all combined: global unless it has one position."""
    a = f.axes[axis]
    if a.n == 1 and not f.flat[axis]:
      return a
    size = self.input_size[axis]
    return AxisField(n_out, size, 0, size / 2, True)

  def _fail(self, node: Node, why: str):
    where = f" in {node.scope}" if node.scope else ""
    raise ValueError(f"receptive field: {node.name}{where}: {why}")

  def _record(self, node: Node, kind: str, after: _Field, windows: list):
    self.rows.append((self._top, node, kind, after.axes, windows))

  def _record_global(self, node: Node, before: list, after: _Field):
    """A row where an op makes an axis global (the field becomes the whole input)."""
    was = [any(f.axes[a].is_global for f in before if f is not None)
           for a in range(len(after.axes))]
    if any(x.is_global and not w for x, w in zip(after.axes, was)):
      self._record(node, "global", after, [_TRIVIAL_WINDOW] * len(after.axes))

  def _merge(self, node: Node, fields: list) -> _Field | None:
    """Fields of arrays combined position by position (add, concat, multiply ...)."""
    fields = [f for f in fields if f is not None]
    if len(fields) <= 1:
      return fields[0] if fields else None
    axes, dims, flat = [], [], []
    for a in range(len(fields[0].axes)):
      group = [f.axes[a] for f in fields]
      positions = {f.dims[a] for f in fields if not f.axes[a].is_global}
      if len(positions) > 1:
        self._fail(node, f"paths disagree on where spatial axis {a} is "
                   f"(array dimensions {sorted(positions, key=str)})")
      dims.append(positions.pop() if positions else fields[0].dims[a])
      axes.append(self._merge_axis(node, a, group, max(x.n for x in group)))
      flat.append(any(f.flat[a] for f in fields))
    merged = _Field(tuple(axes), tuple(dims), tuple(flat))
    if len({f.axes for f in fields}) > 1:
      self._record(node, "merge", merged, [_TRIVIAL_WINDOW] * len(axes))
    return merged

  def _merge_axis(self, node: Node, axis: int, group: list, n: int) -> AxisField:
    glob = [x for x in group if x.is_global]
    if glob:
      return dataclasses.replace(glob[0], n=n)
    jumps = {x.jump for x in group}
    if len(jumps) > 1:
      self._fail(node, f"paths meet with different effective strides {sorted(jumps)} on "
                 f"spatial axis {axis}: the network is not aligned")
    starts = {x.start for x in group}
    if len(starts) > 1 and self.strict:
      self._fail(node, f"paths meet with different centres (start {sorted(starts)}) on "
                 f"spatial axis {axis}: the network is not aligned "
                 "(strict=False merges them into the box covering both)")
    lo = min(x.start - x.rf / 2 for x in group)
    hi = max(x.start + x.rf / 2 for x in group)
    return AxisField(n, hi - lo, group[0].jump, (lo + hi) / 2)

  # -- rules, one per primitive; each returns one field (or None) per output

  def _elementwise(self, node: Node, ins: list) -> list:
    shapes = {tuple(v.shape) for v, f in zip(node.inputs, ins) if f is not None}
    outs = {tuple(v.shape) for v in node.outputs}
    if len(shapes | outs) != 1 or any(jaxpr_walk.sub_jaxprs(node.params)):
      self._fail(node, f"no receptive-field rule for this primitive (input shapes "
                 f"{sorted(shapes)}, output shapes {sorted(outs)})")
    merged = self._merge(node, ins)
    return [merged] * len(node.outputs)

  def _window_op(self, node: Node, f: _Field, windows: dict, dim_map: dict, kind: str):
    """Applies per-dimension windows {dim: (k, s, (lo, hi), rhs_dil, lhs_dil)}."""
    out_shape = node.outputs[0].shape
    axes, dims, used = [], [], []
    nontrivial = False
    for a, (x, d) in enumerate(zip(f.axes, f.dims)):
      if d is None:
        axes.append(x), dims.append(None), used.append(_TRIVIAL_WINDOW)
        continue
      if d not in dim_map:
        self._fail(node, f"spatial axis {a} (array dimension {d}) is contracted like "
                   "channels; use NHWC inputs or pass spatial_axes")
      w = windows.get(d, _TRIVIAL_WINDOW)
      if w != _TRIVIAL_WINDOW:
        if f.flat[a]:
          self._fail(node, f"a window slides over flattened spatial axis {a}")
        nontrivial = True
      k, s, pad, rhs_dil, lhs_dil = w
      n = out_shape[dim_map[d]]
      axes.append(window_field(x, n, k, s, pad[0], rhs_dil, lhs_dil))
      dims.append(dim_map[d])
      used.append((k, s, pad, rhs_dil, lhs_dil))
    out = _Field(tuple(axes), tuple(dims), f.flat)
    if nontrivial or kind == "conv":  # 1×1 convolutions are layers too
      self._record(node, kind, out, [(k, s, p, rd) for k, s, p, rd, _ in used])
    return out

  def _conv_general_dilated(self, node: Node, ins: list) -> list:
    f, kernel_field = ins
    if kernel_field is not None:
      self._fail(node, "the kernel depends on the input")
    p = node.params
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    rhs_shape = node.inputs[1].shape
    windows = {}
    for i, d in enumerate(lhs_spec[2:]):
      windows[d] = (rhs_shape[rhs_spec[2 + i]], p["window_strides"][i], tuple(p["padding"][i]),
                    p["rhs_dilation"][i], p["lhs_dilation"][i])
    dim_map = {lhs_spec[0]: out_spec[0], **{d: out_spec[2 + i] for i, d in enumerate(lhs_spec[2:])}}
    return [self._window_op(node, f, windows, dim_map, "conv")]

  def _reduce_window(self, node: Node, ins: list) -> list:
    p = node.params
    operands = len(node.outputs)
    if any(f is not None for f in ins[operands:]):
      self._fail(node, "the initial value depends on the input")
    f = self._merge(node, ins[:operands])
    rank = len(node.inputs[0].shape)
    windows = {d: (p["window_dimensions"][d], p["window_strides"][d], tuple(p["padding"][d]),
                   p["window_dilation"][d], p["base_dilation"][d]) for d in range(rank)}
    out = self._window_op(node, f, windows, {d: d for d in range(rank)}, "pool")
    return [out] * operands

  def _pad(self, node: Node, ins: list) -> list:
    f, value = ins
    if value is not None:
      self._fail(node, "the padding value depends on the input")
    windows = {d: (1, 1, (lo, hi), 1, interior + 1)
               for d, (lo, hi, interior) in enumerate(node.params["padding_config"])}
    rank = len(windows)
    return [self._window_op(node, f, windows, {d: d for d in range(rank)}, "pad")]

  def _slice(self, node: Node, ins: list) -> list:
    p = node.params
    strides = p["strides"] or (1,) * len(p["start_indices"])
    windows = {d: (1, s, (-start, 0), 1, 1)
               for d, (start, s) in enumerate(zip(p["start_indices"], strides))}
    rank = len(windows)
    return [self._window_op(node, ins[0], windows, {d: d for d in range(rank)}, "slice")]

  def _dynamic_slice(self, node: Node, ins: list) -> list:
    f = ins[0]
    shape = node.inputs[0].shape
    for a, d in enumerate(f.dims):
      if d is not None and node.params["slice_sizes"][d] != shape[d]:
        self._fail(node, f"slices spatial axis {a} at a position known only at run time")
    if any(x is not None for x in ins[1:]):
      self._fail(node, "slice offsets depend on the input")
    return [f]

  def _transpose(self, node: Node, ins: list) -> list:
    perm = list(node.params["permutation"])
    f = ins[0]
    dims = tuple(None if d is None else perm.index(d) for d in f.dims)
    return [_Field(f.axes, dims, f.flat)]

  def _broadcast_in_dim(self, node: Node, ins: list) -> list:
    f = ins[0]
    bdims = node.params["broadcast_dimensions"]
    in_shape, out_shape = node.inputs[0].shape, node.params["shape"]
    axes, dims = [], []
    for a, d in zip(f.axes, f.dims):
      if d is None:
        axes.append(a), dims.append(None)
        continue
      n = out_shape[bdims[d]]
      if in_shape[d] == 1 and n > 1:
        a = dataclasses.replace(a, n=n, jump=0)  # every position sees the same pixels
      axes.append(a), dims.append(bdims[d])
    return [_Field(tuple(axes), tuple(dims), f.flat)]

  def _squeeze(self, node: Node, ins: list) -> list:
    f = ins[0]
    gone = set(node.params["dimensions"])
    dims = tuple(None if d is None or d in gone else d - sum(g < d for g in gone)
                 for d in f.dims)
    return [_Field(f.axes, dims, f.flat)]

  def _reshape(self, node: Node, ins: list) -> list:
    f = ins[0]
    if node.params.get("dimensions") is not None:
      self._fail(node, "reshape with a dimension order is not supported")
    a_shape, b_shape = node.inputs[0].shape, node.outputs[0].shape
    a_pre = np.cumprod((1, *a_shape))
    b_pre = np.cumprod((1, *b_shape))
    dims, flat = [], []
    for axis, d in enumerate(f.dims):
      if d is None or (a_shape[d] == 1 and not f.flat[axis]):
        dims.append(None), flat.append(False)
        continue
      lo, hi = a_pre[d], a_pre[d + 1]
      exact = [e for e in range(len(b_shape)) if b_pre[e] == lo and b_pre[e + 1] == hi]
      if exact:
        dims.append(exact[0]), flat.append(f.flat[axis])
        continue
      # Merged with neighbours: an output dimension spanning whole input dimensions.
      merged = [e for e in range(len(b_shape)) if b_pre[e] <= lo and hi <= b_pre[e + 1]
                and b_pre[e] in a_pre and b_pre[e + 1] in a_pre]
      if not merged:
        self._fail(node, f"reshape {tuple(a_shape)} -> {tuple(b_shape)} splits spatial axis "
                   f"{axis}")
      dims.append(merged[0]), flat.append(True)
    return [_Field(f.axes, tuple(dims), tuple(flat))]

  def _reduce_axes(self, node: Node, ins: list, axes_param: str = "axes") -> list:
    f = ins[0]
    reduced = set(node.params[axes_param])
    new_axes, dims = [], []
    for a, (x, d) in enumerate(zip(f.axes, f.dims)):
      if d is not None and d in reduced:
        new_axes.append(self._contract(f, a)), dims.append(None)
      else:
        new_axes.append(x)
        dims.append(None if d is None else d - sum(r < d for r in reduced))
    out = _Field(tuple(new_axes), tuple(dims), f.flat)
    self._record_global(node, ins, out)
    return [out] * len(node.outputs)

  def _reduce_generic(self, node: Node, ins: list) -> list:
    operands = len(node.outputs)
    if any(f is not None for f in ins[operands:]):
      self._fail(node, "the initial value depends on the input")
    return self._reduce_axes(node, [self._merge(node, ins[:operands])], "dimensions")

  def _cumulative(self, node: Node, ins: list, dim_param: str = "axis") -> list:
    """Prefix sums and sorts: every position may see the whole axis."""
    f = self._merge(node, ins)
    dim = node.params[dim_param]
    axes = tuple(self._contract(f, a, x.n) if d == dim else x
                 for a, (x, d) in enumerate(zip(f.axes, f.dims)))
    out = _Field(axes, f.dims, f.flat)
    self._record_global(node, ins, out)
    return [out] * len(node.outputs)

  def _sort(self, node: Node, ins: list) -> list:
    return self._cumulative(node, ins, "dimension")

  def _dot_general(self, node: Node, ins: list) -> list:
    (lc, rc), (lb, rb) = node.params["dimension_numbers"]
    ranks = [len(v.shape) for v in node.inputs]
    lhs_free = [d for d in range(ranks[0]) if d not in lc and d not in lb]
    rhs_free = [d for d in range(ranks[1]) if d not in rc and d not in rb]
    maps = [{**{d: i for i, d in enumerate(lb)},
             **{d: len(lb) + i for i, d in enumerate(lhs_free)}},
            {**{d: i for i, d in enumerate(rb)},
             **{d: len(lb) + len(lhs_free) + i for i, d in enumerate(rhs_free)}}]
    contracted = [lc, rc]
    outs = []
    for f, dim_map, contr in zip(ins, maps, contracted):
      if f is None:
        continue
      axes, dims = [], []
      for a, (x, d) in enumerate(zip(f.axes, f.dims)):
        if d is not None and d in contr:
          axes.append(self._contract(f, a)), dims.append(None)
        else:
          axes.append(x), dims.append(None if d is None else dim_map[d])
      outs.append(_Field(tuple(axes), tuple(dims), f.flat))
    out = self._merge(node, outs)
    self._record_global(node, ins, out)
    return [out]

  def _concatenate(self, node: Node, ins: list) -> list:
    dim = node.params["dimension"]
    for f in ins:
      if f is not None and any(d == dim for d in f.dims):
        self._fail(node, "concatenates along a spatial axis")
    return [self._merge(node, ins)]

  def _split(self, node: Node, ins: list) -> list:
    f = ins[0]
    if any(d == node.params["axis"] for d in f.dims):
      self._fail(node, "splits a spatial axis")
    return [f] * len(node.outputs)

  def _rev(self, node: Node, ins: list) -> list:
    f = ins[0]
    if any(d in node.params["dimensions"] for d in f.dims if d is not None):
      self._fail(node, "reverses a spatial axis")
    return [f]

  def _cond(self, node: Node, ins: list) -> list:
    if ins[0] is not None:
      self._fail(node, "the branch taken depends on the input")
    results = []
    for body in node.bodies:
      fields = {v.id: f for v, f in zip(body.inputs, ins[1:]) if f is not None}
      fields = self.run(body, fields, top_level=False)
      results.append([fields.get(v.id) if isinstance(v, Value) else None
                      for v in body.outputs])
    return [self._merge(node, list(outs)) for outs in zip(*results)]

  def _unsupported(self, node: Node, ins: list) -> list:
    self._fail(node, "the field through this primitive depends on run-time values "
               "(indices, loop trip counts)")


# Primitive name -> _Propagator method; anything else must be elementwise.
_RULES = {
    "conv_general_dilated": "_conv_general_dilated",
    "reduce_window": "_reduce_window",
    "reduce_window_max": "_reduce_window",
    "reduce_window_min": "_reduce_window",
    "reduce_window_sum": "_reduce_window",
    "pad": "_pad",
    "slice": "_slice",
    "dynamic_slice": "_dynamic_slice",
    "transpose": "_transpose",
    "broadcast_in_dim": "_broadcast_in_dim",
    "squeeze": "_squeeze",
    "reshape": "_reshape",
    "reduce": "_reduce_generic",
    **{p: "_reduce_axes" for p in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
                                   "reduce_and", "reduce_or", "reduce_xor", "argmax",
                                   "argmin")},
    **{p: "_cumulative" for p in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")},
    "sort": "_sort",
    "dot_general": "_dot_general",
    "concatenate": "_concatenate",
    "split": "_split",
    "rev": "_rev",
    "cond": "_cond",
    **{p: "_unsupported" for p in ("gather", "scatter", "scatter_add", "scatter_sub",
                                   "scatter_mul", "scatter_min", "scatter_max",
                                   "dynamic_update_slice", "while", "scan")},
}


def receptive_field(fn: Callable, x, *, variables=None, spatial_axes: Sequence[int] = (1, 2),
                    strict: bool = True) -> ReceptiveFieldTable:
  """The receptive field of every spatial layer of `fn`, read from its jaxpr.

  Args:
    fn: any function of one array, e.g. `lambda x: model.apply(variables, x)`, a
      hand-written `lax` function or a feature extractor; called as
      `fn(variables, x)` when `variables` is given.
    x: the input, an array or jax.ShapeDtypeStruct (only its shape is used);
      NHWC by default.
    variables: optional pytree passed as fn's first argument (arrays or
      ShapeDtypeStructs: nothing is computed).
    spatial_axes: the dimensions of `x` that are spatial.
    strict: raise ValueError where paths with different centres meet (the rule of
      google-research/receptive_field); False merges them into the covering box.

  Returns:
    A ReceptiveFieldTable: one row per layer feeding the output, and `.output`.
  """
  graph, _, x_value = jaxpr_walk.trace_model(fn, x, variables)
  return table_from_graph(graph, x_value, tuple(spatial_axes), strict)


def table_from_graph(graph: Graph, x_value: Value, spatial_axes: tuple,
                     strict: bool) -> ReceptiveFieldTable:
  """`receptive_field` of an already traced graph whose input `x_value` is the image."""
  shape = x_value.shape
  if any(not 0 <= d < len(shape) for d in spatial_axes):
    raise ValueError(f"spatial_axes {spatial_axes} do not fit an input of shape {shape}")
  size = tuple(shape[d] for d in spatial_axes)
  leaves = list(graph.outputs)
  if len(leaves) != 1:
    raise ValueError(f"fn returns {len(leaves)} arrays; return the one to analyse")
  start = _Field(tuple(AxisField(n, 1, 1, 0.5) for n in size), spatial_axes,
                 (False,) * len(size))
  prop = _Propagator(size, strict)
  fields = prop.run(graph, {x_value.id: start})
  out = leaves[0]
  if not isinstance(out, Value) or out.id not in fields:
    raise ValueError("fn's output does not depend on its input x")
  keep = jaxpr_walk.ancestors(graph, [out])
  rows = [row[1:] for row in prop.rows if row[0].index in keep]
  result = fields[out.id]
  output = OutputField(tuple(dataclasses.replace(a, rf=as_number(a.rf), jump=as_number(a.jump))
                             for a in result.axes), result.dims)
  return ReceptiveFieldTable(size, _name_rows(rows, _scopes(graph)), output)


def _scopes(graph: Graph) -> set:
  found = set()
  for node in graph.nodes:
    found.add(node.scope)
    for body in node.bodies:
      found |= _scopes(body)
  return found


def _kind_label(node: Node, kind: str) -> str:
  if kind in ("merge", "global", "pad", "slice"):
    return kind
  return jaxpr_walk.label(node)


def _name_rows(rows: list, scopes: set) -> list[LayerField]:
  """Names rows after their module: the module path alone for a module's only row
  when the module is a leaf (nn.Conv) or the row is where its paths meet (a residual
  block's add), else the path plus the op and a counter ("ResNet/max_pool_0")."""
  parents = {s.rsplit("/", 1)[0] for s in scopes if "/" in s}
  per_scope: dict[str, int] = {}
  for node, *_ in rows:
    per_scope[node.scope] = per_scope.get(node.scope, 0) + 1
  counters: dict[tuple, int] = {}
  named = []
  for node, kind, axes, windows in rows:
    label = _kind_label(node, kind)
    alone = node.scope and per_scope[node.scope] == 1
    if alone and (kind == "merge" or node.scope not in parents):
      name = node.scope
    else:
      k = counters.get((node.scope, label), 0)
      counters[(node.scope, label)] = k + 1
      name = "/".join(s for s in (node.scope, f"{label}_{k}") if s)
    named.append(layer_row(name, f"{node.name}_{node.index}", node.scope, kind, axes, windows))
  return named
