"""Receptive fields measured with gradients: the empirical check and the effective field.

The gradient of one output feature with respect to the input is non-zero only
inside that feature's receptive field. Max pooling and ReLU route the gradient of a
single input through one window element and the active units, so
`dependency_map` differentiates a surrogate in which every max (max pooling, ReLU's
`max(x, 0)`, reductions) is a sum: the same dependency structure, no argmax
sparsity, and its non-zero support is the theoretical field (its bounding box;
dilated kernels leave holes inside).

The effective receptive field (Luo et al. 2016, "Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks") is the distribution of the
true gradient's magnitude over the input, averaged over random inputs: it is
roughly Gaussian and occupies a fraction of the theoretical field.
"""
import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jcnn.analysis import jaxpr_walk
from jcnn.analysis.receptive_field import table_from_graph
from jcnn.analysis.rf_table import Box, FeatureBox, ReceptiveFieldTable, feature_box


def _as_sum(node, *inputs):
  """A max/min of arrays replaced by their sum (same dependencies)."""
  return [jnp.add(*inputs)]


def _pool_as_sum(node, x):
  p = node.params
  return [lax.reduce_window_sum_p.bind(
      x, window_dimensions=p["window_dimensions"], window_strides=p["window_strides"],
      padding=p["padding"], base_dilation=p["base_dilation"],
      window_dilation=p["window_dilation"])]


def _reduce_as_sum(node, x):
  return [lax.reduce_sum_p.bind(x, **node.params)]


_SURROGATE = {
    "max": _as_sum,
    "min": _as_sum,
    "reduce_window_max": _pool_as_sum,
    "reduce_window_min": _pool_as_sum,
    "reduce_max": _reduce_as_sum,
    "reduce_min": _reduce_as_sum,
}


@dataclasses.dataclass
class _Setup:
  graph: jaxpr_walk.Graph
  args: list            # concrete variable leaves (fn's first argument), or []
  x: jax.ShapeDtypeStruct
  table: ReceptiveFieldTable


def _setup(fn: Callable, x, variables, spatial_axes, strict: bool, seed: int) -> _Setup:
  graph, _, x_value = jaxpr_walk.trace_model(fn, x, variables)
  table = table_from_graph(graph, x_value, tuple(spatial_axes), strict)
  leaves = [] if variables is None else jax.tree.leaves(variables)
  rng = np.random.default_rng(seed + 1)
  leaves = [random_weights(rng, l) if isinstance(l, jax.ShapeDtypeStruct) else l
            for l in leaves]
  return _Setup(graph, leaves, jaxpr_walk.abstract(x), table)


def random_weights(rng: np.random.Generator, shape: jax.ShapeDtypeStruct) -> np.ndarray:
  """Weights for a variable known only by its shape: fan-in scaled normal for
  kernels (LeCun normal over all axes but the last), ones for vectors (biases,
  BatchNorm scales and statistics: positive, so variances stay valid).

  Drawn with NumPy: one JAX op per distinct shape would compile each.
  """
  dtype = np.dtype(shape.dtype)
  if not np.issubdtype(dtype, np.floating):
    return np.zeros(shape.shape, dtype)
  if len(shape.shape) < 2:
    return np.ones(shape.shape, dtype)
  fan_in = int(np.prod(shape.shape[:-1]))
  return (rng.standard_normal(shape.shape) / np.sqrt(fan_in)).astype(dtype)


def _random_input(rng: np.random.Generator, x: jax.ShapeDtypeStruct) -> np.ndarray:
  return rng.standard_normal(x.shape).astype(np.dtype(x.dtype))


def _centre(table: ReceptiveFieldTable) -> tuple[int, ...]:
  return tuple(n // 2 for n in table.output.n)


def _check_position(table: ReceptiveFieldTable, position) -> tuple[int, ...]:
  out = table.output
  position = _centre(table) if position is None else tuple(int(p) for p in position)
  if len(position) != len(out.axes):
    raise ValueError(f"position {position} needs one index per spatial axis")
  if any(not 0 <= p < a.n for p, a in zip(position, out.axes)):
    raise ValueError(f"position {position} outside the output's {out.n} positions")
  return position


def _gradient_fn(setup: _Setup, spatial_axes, replace) -> Callable:
  """(x, position) -> |d out[..., position, ...] / dx| summed over non-spatial axes.

  One compilation serves every position: the position is an argument.
  """
  dims = setup.table.output.dims

  def unit(x, args, consts, scale, position):
    y = jaxpr_walk.evaluate(setup.graph, [*args, x], consts, replace=replace)[0]
    for p, d in sorted(((p, d) for p, d in zip(position, dims) if d is not None),
                       key=lambda pd: -pd[1]):  # highest dimension first: indices stay valid
      y = lax.dynamic_index_in_dim(y, p, axis=d, keepdims=False)
    return scale * jnp.sum(y)

  other = tuple(d for d in range(setup.x.ndim) if d not in tuple(spatial_axes))
  # Weights and the seed's scale are arguments, not constants, or XLA would try to
  # constant-fold the (linear) backward pass while compiling.
  grad = jax.jit(lambda *args: jnp.sum(jnp.abs(jax.grad(unit)(*args)), axis=other))
  return lambda x, position: grad(x, setup.args, setup.graph.const_values, jnp.float32(1),
                                  jnp.asarray(position, jnp.int32))


def dependency_map(fn: Callable, x, position: Sequence[int] | None = None, *, variables=None,
                   spatial_axes: Sequence[int] = (1, 2), strict: bool = True,
                   seed: int = 0) -> tuple[np.ndarray, FeatureBox]:
  """Which input pixels one output feature depends on, measured by a gradient.

  Args:
    fn, variables, spatial_axes, strict: as in `receptive_field`; variables given as
      ShapeDtypeStructs get `random_weights` (the dependencies do not depend on
      the values).
    x: the input shape (array or ShapeDtypeStruct); random normal values are used.
    position: the output feature's position per spatial axis (default: centre).
    seed: for the random input and weights.

  Returns:
    (map, theory): `map` [height, width] is |gradient| of the surrogate (module
    docstring), non-zero exactly where the feature depends on the input; `theory`
    is `feature_box` of the same feature.
  """
  return dependency_maps(fn, x, [position], variables=variables, spatial_axes=spatial_axes,
                         strict=strict, seed=seed)[0]


def dependency_maps(fn: Callable, x, positions: Sequence[Sequence[int] | None], *,
                    variables=None, spatial_axes: Sequence[int] = (1, 2), strict: bool = True,
                    seed: int = 0) -> list[tuple[np.ndarray, FeatureBox]]:
  """`dependency_map` for several output positions, compiling once."""
  setup = _setup(fn, x, variables, spatial_axes, strict, seed)
  positions = [_check_position(setup.table, p) for p in positions]
  grad = _gradient_fn(setup, spatial_axes, _SURROGATE)
  inputs = _random_input(np.random.default_rng(seed), setup.x)
  return [(np.asarray(grad(inputs, p)), feature_box(setup.table, None, _box_index(setup, p)))
          for p in positions]


def _box_index(setup: _Setup, position) -> tuple[int, ...]:
  return tuple(p if d is not None else 0 for p, d in zip(position, setup.table.output.dims))


def support_box(gradient: np.ndarray) -> Box | None:
  """The bounding box of a map's non-zero entries (None when all are zero)."""
  rows = np.flatnonzero(np.any(gradient != 0, axis=1))
  cols = np.flatnonzero(np.any(gradient != 0, axis=0))
  if not len(rows):
    return None
  return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


@dataclasses.dataclass(frozen=True)
class EffectiveField:
  """The effective receptive field of one output feature.

  Attributes:
    heatmap: [height, width] mean |gradient| over the random inputs, summing to 1.
    theory: the theoretical field of the same feature (`feature_box`).
    position: the output feature's position.
    num_samples: random inputs averaged.
  """
  heatmap: np.ndarray
  theory: FeatureBox
  position: tuple
  num_samples: int

  def area_fraction(self, mass: float = 0.95) -> float:
    """Fraction of the theoretical field (clipped to the image) that the fewest
    pixels holding `mass` of the gradient cover (Luo et al.: well below 1)."""
    if not 0 < mass <= 1:
      raise ValueError(f"mass must be in (0, 1], got {mass}")
    values = np.sort(self.heatmap.ravel())[::-1]
    count = int(np.searchsorted(np.cumsum(values), mass * values.sum()) + 1)
    b = self.theory.clipped
    return min(count, values.size) / ((b.bottom - b.top) * (b.right - b.left))


def effective_receptive_field(fn: Callable, x, position: Sequence[int] | None = None, *,
                              variables=None, spatial_axes: Sequence[int] = (1, 2),
                              strict: bool = True, num_samples: int = 16,
                              seed: int = 0) -> EffectiveField:
  """The effective receptive field (Luo et al. 2016) of one output feature.

  Args:
    fn, variables, spatial_axes, strict: as in `receptive_field`: initial or trained
      variables (from a checkpoint); ShapeDtypeStructs get `random_weights`.
    x: the input shape (array or ShapeDtypeStruct).
    position: the output feature's position per spatial axis (default: centre).
    num_samples: random normal inputs to average the gradient magnitude over.
    seed: for the inputs.

  Returns:
    An EffectiveField.
  """
  if num_samples < 1:
    raise ValueError(f"num_samples must be >= 1, got {num_samples}")
  setup = _setup(fn, x, variables, spatial_axes, strict, seed)
  position = _check_position(setup.table, position)
  grad = _gradient_fn(setup, spatial_axes, None)
  rng = np.random.default_rng(seed)
  heat = sum(np.asarray(grad(_random_input(rng, setup.x), position), np.float64)
             for _ in range(num_samples))
  if heat.sum() == 0:
    raise ValueError("the gradient is zero everywhere: no effective field to measure")
  theory = feature_box(setup.table, None, _box_index(setup, position))
  return EffectiveField(heat / heat.sum(), theory, position, num_samples)


def plot_effective_receptive_field(erf: EffectiveField, ax=None, title: str | None = None):
  """Heat map of the effective field with the theoretical box drawn over it.

  Returns:
    The matplotlib Axes.
  """
  import matplotlib.pyplot as plt
  from matplotlib import patches
  if ax is None:
    _, ax = plt.subplots(figsize=(4, 4))
  ax.imshow(erf.heatmap, cmap="inferno", interpolation="nearest")
  b = erf.theory.clipped
  ax.add_patch(patches.Rectangle((b.left - 0.5, b.top - 0.5), b.right - b.left,
                                 b.bottom - b.top, fill=False, edgecolor="cyan", lw=1.5,
                                 label="theoretical field"))
  ax.set_title(title or f"effective field: 95% of the gradient on "
               f"{100 * erf.area_fraction(0.95):.0f}% of the theoretical field")
  ax.legend(loc="lower right", fontsize=7)
  return ax
