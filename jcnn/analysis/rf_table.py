"""What a receptive-field analysis gives: the field along each axis, one row per layer,
the table (printable, JSON-ready) and the pixel box each feature sees.

Pixel p covers [p, p + 1), so start is the centre of the first feature in input
pixels, and feature i sees the pixels [i * j - P, i * j - P + r) where
P = r / 2 - start is the effective padding of google-research/receptive_field.
"""
import dataclasses
import math
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class AxisField:
  """The receptive field along one spatial axis of an array.

  Attributes:
    n: number of positions along the axis.
    rf: receptive field size r, in input pixels.
    jump: effective stride j: input pixels between neighbouring features (0 when
      every position sees the same pixels, e.g. after global pooling).
    start: centre of the first feature, in input pixels (the first pixel's centre
      is 0.5).
    is_global: the field is the whole input axis.
  """
  n: int
  rf: float
  jump: float
  start: float
  is_global: bool = False

  @property
  def padding(self) -> float:
    """Effective padding P = r / 2 - start (google-research/receptive_field)."""
    return self.rf / 2 - self.start

  def span(self, i: int) -> tuple[float, float]:
    """Half-open interval of input pixels seen by feature `i`."""
    lo = self.start - self.rf / 2 + i * self.jump
    return lo, lo + self.rf


@dataclasses.dataclass(frozen=True)
class LayerField:
  """One row of a receptive-field table: the field at a layer's output.

  Every tuple has one entry per spatial axis (height, width).

  Attributes:
    name: unique row name: the Flax module path, with the op when a module holds
      several (e.g. "LeNet5/c1", "LeNet5/max_pool_0").
    op: the primitive and its index in the flattened jaxpr.
    scope: the Flax module path (name stack) the op ran in.
    kind: "conv", "pool", "pad", "slice", "merge" (paths meet) or "global".
    kernel, stride, dilation: window shape, strides and kernel dilation (1 for
      merge and global rows).
    padding: (before, after) per axis, in the layer's input pixels.
    n, rf, jump, start, is_global: the field at the output (see AxisField).
  """
  name: str
  op: str
  scope: str
  kind: str
  kernel: tuple
  stride: tuple
  dilation: tuple
  padding: tuple
  n: tuple
  rf: tuple
  jump: tuple
  start: tuple
  is_global: tuple

  @property
  def effective_kernel(self) -> tuple:
    return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

  @property
  def effective_padding(self) -> tuple:
    return tuple(r / 2 - s for r, s in zip(self.rf, self.start))

  @property
  def axes(self) -> tuple[AxisField, ...]:
    return tuple(AxisField(*a) for a in zip(self.n, self.rf, self.jump, self.start,
                                            self.is_global))

  def as_dict(self) -> dict:
    """JSON-ready: name, kernel, stride, padding, n, rf, jump, start and the rest."""
    return {"name": self.name, "op": self.op, "kind": self.kind,
            "kernel": list(self.kernel), "stride": list(self.stride),
            "dilation": list(self.dilation), "padding": [list(p) for p in self.padding],
            "n": list(self.n), "rf": [as_number(r) for r in self.rf],
            "jump": [as_number(j) for j in self.jump], "start": [as_number(s) for s in self.start],
            "global": list(self.is_global)}


@dataclasses.dataclass(frozen=True)
class OutputField:
  """The receptive field of the function's output, per spatial axis.

  Attributes:
    axes: one AxisField per spatial axis.
    dims: the output array dimension carrying each axis (None where the axis was
      reduced to a single position, e.g. by flattening a 1×1 map).
  """
  axes: tuple
  dims: tuple

  @property
  def n(self) -> tuple:
    return tuple(a.n for a in self.axes)

  @property
  def rf(self) -> tuple:
    return tuple(a.rf for a in self.axes)

  @property
  def jump(self) -> tuple:
    return tuple(a.jump for a in self.axes)

  @property
  def start(self) -> tuple:
    return tuple(a.start for a in self.axes)

  @property
  def padding(self) -> tuple:
    return tuple(a.padding for a in self.axes)

  @property
  def is_global(self) -> tuple:
    return tuple(a.is_global for a in self.axes)

  def as_dict(self) -> dict:
    return {"n": list(self.n), "rf": [as_number(r) for r in self.rf],
            "jump": [as_number(j) for j in self.jump], "start": [as_number(s) for s in self.start],
            "effective_padding": [as_number(p) for p in self.padding],
            "global": list(self.is_global)}


@dataclasses.dataclass(frozen=True)
class ReceptiveFieldTable:
  """Receptive field of every spatial layer on the way to the output.

  Attributes:
    input_size: the input's size along each spatial axis.
    rows: one LayerField per conv, pool, pad, slice, merge of paths and global op
      that feeds the output, in data-flow order.
    output: the output's field (OutputField).
  """
  input_size: tuple
  rows: list
  output: OutputField

  def row(self, layer: str | int) -> LayerField:
    """The row named `layer`, or at position `layer`."""
    if isinstance(layer, (int, np.integer)):
      if not -len(self.rows) <= layer < len(self.rows):
        raise ValueError(f"layer index {layer} out of range for {len(self.rows)} rows")
      return self.rows[layer]
    for row in self.rows:
      if row.name == layer:
        return row
    raise ValueError(f"no layer named {layer!r}; layers: {[r.name for r in self.rows]}")

  def as_dict(self) -> dict:
    return {"layers": [r.as_dict() for r in self.rows],
            "total": {"input_size": list(self.input_size), **self.output.as_dict()}}

  def __str__(self) -> str:
    header = ("layer", "kernel", "stride", "dilation", "padding", "n", "rf", "jump", "start")
    lines = [header]
    for r in self.rows:
      window = r.kind not in ("merge", "global")
      lines.append((r.name,
                    _axes(r.kernel) if window else "-",
                    _axes(r.stride) if window else "-",
                    _axes(r.dilation) if window else "-",
                    _axes([_pad(p) for p in r.padding]) if window else "-",
                    _axes(r.n), _axes_rf(r.rf, r.is_global), _axes_jump(r.jump, r.is_global),
                    _axes(r.start)))
    out = self.output
    lines.append(("output", "", "", "", "", _axes(out.n), _axes_rf(out.rf, out.is_global),
                  _axes_jump(out.jump, out.is_global), _axes(out.start)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "-" * len(text[0]))
    text.append(f"input {_axes(self.input_size)}; output receptive field "
                f"{_axes_rf(out.rf, out.is_global)}, effective stride "
                f"{_axes_jump(out.jump, out.is_global)}, effective padding "
                f"{_axes(out.padding)}")
    return "\n".join(text)


def as_number(x):
  """An int when integral, else a float: for tables and JSON."""
  return int(x) if float(x).is_integer() else float(x)


def _axes(values) -> str:
  values = [as_number(v) if not isinstance(v, str) else v for v in values]
  return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _pad(p) -> str:
  return str(p[0]) if p[0] == p[1] else f"{p[0]}/{p[1]}"


def _axes_rf(rf, is_global) -> str:
  return _axes(rf) + (" (global)" if any(is_global) else "")


def _axes_jump(jump, is_global) -> str:
  return _axes(["-" if g else j for j, g in zip(jump, is_global)])


@dataclasses.dataclass(frozen=True)
class Box:
  """Half-open pixel box: rows [top, bottom), columns [left, right)."""
  top: int
  left: int
  bottom: int
  right: int


@dataclasses.dataclass(frozen=True)
class FeatureBox:
  """What one feature sees: `box` in input pixels, `clipped` to the image."""
  box: Box
  clipped: Box


def feature_box(table: ReceptiveFieldTable, layer: str | int | None,
                index: Sequence[int]) -> FeatureBox:
  """The input-pixel box seen by feature `index` (one position per axis) of a layer.

  Args:
    table: from `receptive_field` or `receptive_field_from_layers`.
    layer: row name or position; None for the function's output.
    index: the feature's position along each spatial axis, e.g. (row, column).

  Returns:
    The box, unclipped (it may extend into the padding) and clipped to the image.
  """
  axes = _layer_axes(table, layer)
  index = tuple(index)
  if len(index) != len(axes):
    raise ValueError(f"index {index} needs one position per spatial axis ({len(axes)})")
  spans = []
  for i, a, size in zip(index, axes, table.input_size):
    if not 0 <= i < a.n:
      raise ValueError(f"feature index {index} outside the layer's {tuple(x.n for x in axes)}"
                       " positions")
    lo, hi = a.span(i)
    spans.append((math.floor(lo), math.ceil(hi), max(0, math.floor(lo)),
                  min(size, math.ceil(hi))))
  if len(spans) != 2:
    raise ValueError(f"boxes are 2-D; this table has {len(spans)} spatial axes")
  (t, b, ct, cb), (l, r, cl, cr) = spans
  return FeatureBox(Box(t, l, b, r), Box(ct, cl, cb, cr))


def features_seeing(table: ReceptiveFieldTable, layer: str | int | None,
                    pixel: Sequence[int]) -> tuple[range, ...]:
  """The features of a layer whose field contains input `pixel`: a range per axis.

  The inverse of `feature_box`: feature (i, k) sees `pixel` exactly when i is in the
  first range and k in the second.
  """
  axes = _layer_axes(table, layer)
  pixel = tuple(pixel)
  if len(pixel) != len(axes):
    raise ValueError(f"pixel {pixel} needs one coordinate per spatial axis ({len(axes)})")
  ranges = []
  for p, a, size in zip(pixel, axes, table.input_size):
    if not 0 <= p < size:
      raise ValueError(f"pixel {pixel} outside the input {tuple(table.input_size)}")
    lo0, hi0 = a.span(0)
    if a.jump == 0:
      ranges.append(range(a.n) if lo0 <= p < hi0 else range(0))
      continue
    # lo0 + i * j <= p  and  p + 1 <= hi0 + i * j
    first = max(0, math.ceil((p + 1 - hi0) / a.jump))
    last = min(a.n - 1, math.floor((p - lo0) / a.jump))
    ranges.append(range(first, last + 1) if first <= last else range(0))
  return tuple(ranges)


def _layer_axes(table: ReceptiveFieldTable, layer) -> tuple[AxisField, ...]:
  return table.output.axes if layer is None else table.row(layer).axes


def layer_row(name, op, scope, kind, axes, windows) -> LayerField:
  """The row of a layer from its output `axes` and, per axis, its window
  (kernel, stride, (before, after) padding, dilation)."""
  return LayerField(
      name=name, op=op, scope=scope, kind=kind,
      kernel=tuple(w[0] for w in windows), stride=tuple(w[1] for w in windows),
      padding=tuple(tuple(int(v) for v in w[2]) for w in windows),
      dilation=tuple(w[3] for w in windows),
      n=tuple(a.n for a in axes), rf=tuple(as_number(a.rf) for a in axes),
      jump=tuple(as_number(a.jump) for a in axes), start=tuple(a.start for a in axes),
      is_global=tuple(a.is_global for a in axes))

