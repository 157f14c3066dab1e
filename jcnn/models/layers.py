"""Linen layers that compute through jcnn.nn's pure functions."""
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jcnn import kernels
from jcnn import nn as jnn
from jcnn.padding import Padding, to_pair

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
}


def choice(kind: str, table: dict, key: str):
  """`table[key]`, or a ValueError naming the unknown `kind` and the choices."""
  if key not in table:
    raise ValueError(f"unknown {kind} {key!r}; choose from {sorted(table)}")
  return table[key]


class Conv(nn.Module):
  """`flax.linen.Conv` for NHWC inputs, computed by `jcnn.nn.conv2d`.

  Same fields, parameters ("kernel" [kh, kw, in / groups, features], "bias") and
  initialisers as Flax's, so checkpoints and parameter counts do not change; the
  computation goes through `jcnn.nn.conv2d`, run on the CPU through oneDNN or as
  matrix products (`jcnn.kernels`).
  """
  features: int
  kernel_size: int | Sequence[int]
  strides: int | Sequence[int] = 1
  padding: Padding = "SAME"
  kernel_dilation: int | Sequence[int] = 1
  feature_group_count: int = 1
  use_bias: bool = True
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [batch, height, width, in] -> [batch, out_height, out_width, features]."""
    groups = self.feature_group_count
    if x.shape[-1] % groups:
      raise ValueError(f"{self.name}: input channels {x.shape[-1]} are not divisible "
                       f"by feature_group_count={groups}")
    kernel = self.param("kernel", self.kernel_init,
                        to_pair(self.kernel_size, "kernel_size")
                        + (x.shape[-1] // groups, self.features))
    bias = self.param("bias", self.bias_init, (self.features,)) if self.use_bias else None
    return jnn.conv2d(x, kernel, bias, stride=self.strides, padding=self.padding,
                      dilation=self.kernel_dilation, groups=groups)


class FlatDense(nn.Module):
  """`flax.linen.Dense` over a map [batch, h, w, c] flattened row-major.

  Same parameters ("kernel" [h·w·c, features], "bias") and initialisers as Flax's on
  `x.reshape(batch, -1)`; computed by `jcnn.kernels.flat_dense`, which on the CPU keeps
  the map's shape (XLA would otherwise recompute its producer per flat element).
  """
  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [batch, h, w, c] -> [batch, features]."""
    if x.ndim != 4:
      raise ValueError(f"{self.name}: need a map [batch, h, w, c], got shape {x.shape}")
    kernel = self.param("kernel", self.kernel_init,
                        (x.shape[1] * x.shape[2] * x.shape[3], self.features))
    bias = self.param("bias", self.bias_init, (self.features,))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias)
    return kernels.flat_dense(x, kernel) + bias


class BatchNorm(nn.Module):
  """`flax.linen.BatchNorm` over the last axis, computed by `jcnn.nn.batch_norm`.

  Same fields (the ones the zoo uses), parameters ("scale", "bias"), running
  statistics ("batch_stats": "mean", "var"), initialisers and output dtype as Flax's,
  so checkpoints do not change; training on the CPU in float32 goes through oneDNN
  (`jcnn.kernels`), one pass over the activations each way.
  """
  use_running_average: bool | None = None
  momentum: float = 0.99
  epsilon: float = 1e-5
  scale_init: nn.initializers.Initializer = nn.initializers.ones
  bias_init: nn.initializers.Initializer = nn.initializers.zeros
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
    """x: [..., features] -> the same shape, normalised per feature."""
    use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                         use_running_average)
    features = (x.shape[-1],)
    running_mean = self.variable("batch_stats", "mean", jnp.zeros, features, jnp.float32)
    running_var = self.variable("batch_stats", "var", jnp.ones, features, jnp.float32)
    scale = self.param("scale", self.scale_init, features, jnp.float32)
    bias = self.param("bias", self.bias_init, features, jnp.float32)
    initializing = self.is_initializing()
    y, mean, var = jnn.batch_norm(
        x, scale, bias, running_mean.value, running_var.value,
        train=not use_running_average, momentum=self.momentum, epsilon=self.epsilon,
        axis_name=None if initializing else self.axis_name)
    if not use_running_average and not initializing:
      running_mean.value, running_var.value = mean, var
    return y.astype(jnp.result_type(x, scale, bias))


def stored_statistics(select: Callable[[tuple[str, ...]], bool] | None = None) -> Callable:
  """A method interceptor (`nn.intercept_methods`) that runs `BatchNorm` layers on their
  running statistics even in a model called with train=True: they normalise as in
  evaluation and leave the statistics as they are. `select(module path)`, e.g.
  ("stage1_block1", "bn1"), chooses the layers (default: all)."""

  def intercept(next_fun, args, kwargs, context):
    module = context.module
    if (not isinstance(module, BatchNorm) or context.method_name != "__call__"
        or module.is_initializing() or (select is not None and not select(module.path))):
      return next_fun(*args, **kwargs)
    x = args[0]
    scale, bias = module.get_variable("params", "scale"), module.get_variable("params", "bias")
    y, _, _ = jnn.batch_norm(x, scale, bias, module.get_variable("batch_stats", "mean"),
                             module.get_variable("batch_stats", "var"), train=False,
                             epsilon=module.epsilon)
    return y.astype(jnp.result_type(x, scale, bias))

  return intercept
