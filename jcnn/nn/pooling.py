"""Max, average and global average pooling on NHWC inputs."""
import functools

import jax
import jax.numpy as jnp
from jax import lax

from jcnn.padding import Padding, check_nhwc, spatial_padding, to_pair


def _window_args(window, stride, padding):
  """Window dims, strides and padding for `lax.reduce_window` on NHWC."""
  window = to_pair(window, "window")
  stride = window if stride is None else to_pair(stride, "stride")
  pads = spatial_padding(padding)
  if not isinstance(pads, str):
    pads = ((0, 0), *pads, (0, 0))
  return (1, *window, 1), (1, *stride, 1), pads


def max_pool(x: jax.Array, window: int | tuple[int, int],
             stride: int | tuple[int, int] | None = None,
             padding: Padding = "VALID") -> jax.Array:
  """Takes the maximum over each window; padded cells never win.

  Args:
    x: [batch, height, width, channels].
    window: int or (window_h, window_w).
    stride: int or pair; None means the window size (no overlap). AlexNet's
      overlapping pooling is window=3, stride=2.
    padding: "SAME", "VALID", int, (ph, pw) or ((top, bottom), (left, right)).

  Returns:
    [batch, out_height, out_width, channels].
  """
  check_nhwc(x)
  dims, strides, pads = _window_args(window, stride, padding)
  if _tiles(x, dims, strides, pads):
    return _tiled_max_pool(x, dims[1:3])
  # The reducer's identity (-inf, or the int minimum) keeps padding out of the max.
  # It must be a Python scalar: only a concrete init lets JAX recognise the max-pool
  # primitive, which has a gradient (a jnp array is traced under jit and has none).
  if jnp.issubdtype(x.dtype, jnp.floating):
    init = -float("inf")
  else:
    init = int(jnp.iinfo(x.dtype).min)
  return lax.reduce_window(x, init, lax.max, dims, strides, pads)


def _tiles(x: jax.Array, dims, strides, pads) -> bool:
  """Whether the windows tile `x` exactly: stride = window, no padding, no remainder."""
  # With stride = window and no remainder, "SAME" adds no padding either.
  no_padding = isinstance(pads, str) or all(p == (0, 0) for p in pads)
  return (dims == strides and no_padding and jnp.issubdtype(x.dtype, jnp.floating)
          and x.shape[1] % dims[1] == 0 and x.shape[2] % dims[2] == 0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _tiled_max_pool(x: jax.Array, window: tuple[int, int]) -> jax.Array:
  """Max pooling over non-overlapping windows, with a gradient that fuses.

  The value is `lax.reduce_window`'s (so jaxpr-reading tools such as `jcnn.analysis`
  see an ordinary max pool); the gradient goes to the first maximum of each window in
  row-major order, as XLA's select-and-scatter and PyTorch do, but as element-wise work
  on a reshaped view, where select-and-scatter is a slow serial loop on XLA:CPU
  (LeNet-5's step: see benchmarks/README.md).
  """
  dims = (1, *window, 1)
  return lax.reduce_window(x, -float("inf"), lax.max, dims, dims, "VALID")


def _blocks(x: jax.Array, window: tuple[int, int]) -> jax.Array:
  n, h, w, c = x.shape
  return x.reshape(n, h // window[0], window[0], w // window[1], window[1], c)


def _tiled_max_pool_fwd(x, window):
  y = _tiled_max_pool(x, window)
  return y, (x, y)


def _tiled_max_pool_bwd(window, residuals, g):
  x, y = residuals
  blocks = _blocks(x, window)
  taken = jnp.zeros(y.shape, bool)
  grads = []
  for i in range(window[0]):
    row = []
    for j in range(window[1]):
      first = (blocks[:, :, i, :, j, :] == y) & ~taken
      taken = taken | first
      row.append(jnp.where(first, g, 0).astype(g.dtype))
    grads.append(jnp.stack(row, axis=3))           # [n, h', w', kw, c]
  dx = jnp.stack(grads, axis=2)                     # [n, h', kh, w', kw, c]
  return (dx.reshape(x.shape),)


_tiled_max_pool.defvjp(_tiled_max_pool_fwd, _tiled_max_pool_bwd)


def avg_pool(x: jax.Array, window: int | tuple[int, int],
             stride: int | tuple[int, int] | None = None,
             padding: Padding = "VALID", count_include_pad: bool = True) -> jax.Array:
  """Averages over each window.

  Args:
    x: [batch, height, width, channels].
    window: int or (window_h, window_w).
    stride: int or pair; None means the window size (no overlap).
    padding: "SAME", "VALID", int, (ph, pw) or ((top, bottom), (left, right)).
    count_include_pad: True divides every window sum by the window size, so
      padded zeros pull edge values down (PyTorch's default); False divides by
      the number of real cells in the window (TensorFlow's "SAME" average pooling).

  Returns:
    [batch, out_height, out_width, channels].
  """
  check_nhwc(x)
  dims, strides, pads = _window_args(window, stride, padding)
  zero = 0.0 if jnp.issubdtype(x.dtype, jnp.floating) else 0  # concrete: see max_pool
  sums = lax.reduce_window(x, zero, lax.add, dims, strides, pads)
  if count_include_pad:
    return sums / (dims[1] * dims[2])
  ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
  counts = lax.reduce_window(ones, zero, lax.add, dims, strides, pads)
  return sums / counts


def global_avg_pool(x: jax.Array, keepdims: bool = False) -> jax.Array:
  """Averages over height and width.

  Args:
    x: [batch, height, width, channels].
    keepdims: keep the spatial axes as size 1.

  Returns:
    [batch, channels], or [batch, 1, 1, channels] with keepdims.
  """
  check_nhwc(x)
  return jnp.mean(x, axis=(1, 2), keepdims=keepdims)
