"""The receptive-field arithmetic of one window layer, and of a chain of them.

Per spatial axis, each layer maps (n, r, j, start) of its input to its output
(Dang Ha The Hien, "A guide to receptive field arithmetic for Convolutional Neural
Networks"), with k_eff = dilation * (k - 1) + 1 and p_left the padding before the
first pixel:

  n_out = floor((n_in + p_left + p_right - k_eff) / s) + 1
  j_out = j_in * s
  r_out = r_in + (k_eff - 1) * j_in
  start_out = start_in + ((k_eff - 1) / 2 - p_left) * j_in,   start_0 = 0.5
"""
import dataclasses
from typing import Sequence

import numpy as np

from jcnn.analysis.rf_table import AxisField, OutputField, ReceptiveFieldTable, layer_row


def receptive_field_from_layers(layers: Sequence[Sequence[int]], input_size: int | Sequence[int],
                                names: Sequence[str] | None = None) -> ReceptiveFieldTable:
  """The receptive-field table of a chain of square layers.

  Args:
    layers: per layer [kernel, stride, padding] or [kernel, stride, padding,
      dilation]; padding is an int (both sides) or a (before, after) pair.
    input_size: the input's side (a square image) or (height, width).
    names: row names (default "layer_1", "layer_2", ...).

  Returns:
    A ReceptiveFieldTable, the same as `receptive_field` gives for the equivalent
    `lax` function.
  """
  size = (input_size, input_size) if isinstance(input_size, (int, np.integer)) else input_size
  size = tuple(int(s) for s in size)
  names = list(names) if names is not None else [f"layer_{i + 1}" for i in range(len(layers))]
  if len(names) != len(layers):
    raise ValueError(f"{len(names)} names for {len(layers)} layers")
  axes = tuple(AxisField(s, 1, 1, 0.5) for s in size)
  rows = []
  for name, layer in zip(names, layers):
    if len(layer) not in (3, 4):
      raise ValueError(f"layer {name} must be [kernel, stride, padding(, dilation)], got {layer}")
    k, s, p = layer[:3]
    d = layer[3] if len(layer) == 4 else 1
    pad = (p, p) if isinstance(p, (int, np.integer)) else tuple(p)
    if k < 1 or s < 1 or d < 1:
      raise ValueError(f"layer {name}: kernel, stride and dilation must be >= 1, got {layer}")
    new = []
    for a in axes:
      n = (a.n + pad[0] + pad[1] - (d * (k - 1) + 1)) // s + 1
      if n < 1:
        raise ValueError(f"layer {name} {list(layer)} leaves no output from {a.n} positions")
      new.append(window_field(a, n, k, s, pad[0], d, 1))
    axes = tuple(new)
    rows.append(layer_row(name, "", "", "conv", axes, [(k, s, pad, d)] * len(axes)))
  return ReceptiveFieldTable(size, rows, OutputField(axes, (None,) * len(axes)))


def window_field(a: AxisField, n: int, k: int, s: int, pad_before: int, rhs_dilation: int,
                 lhs_dilation: int) -> AxisField:
  """The field after a window of k taps (dilated), stride s, on an input dilated
  by `lhs_dilation` (a transposed convolution's fractional stride)."""
  if a.is_global:
    return dataclasses.replace(a, n=n)
  k_eff = rhs_dilation * (k - 1) + 1
  j_in = a.jump / lhs_dilation
  return AxisField(n, a.rf + (k_eff - 1) * j_in, j_in * s,
                   a.start + ((k_eff - 1) / 2 - pad_before) * j_in)
