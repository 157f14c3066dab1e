"""Convolution and training batch norm as plain XLA ops: every backend's default path.

These are the ops the jaxpr analyses read (`conv_general_dilated` and the
normalisation's arithmetic), and the reference the other kernels are tested against.
"""
import jax
import jax.numpy as jnp
from jax import lax

from jcnn.padding import Pads


def conv(x: jax.Array, kernel: jax.Array, stride: tuple[int, int], pads: Pads,
         dilation: tuple[int, int], groups: int) -> jax.Array:
  """`lax.conv_general_dilated` on NHWC inputs and HWIO kernels, explicit pads."""
  return lax.conv_general_dilated(x, kernel, window_strides=stride, padding=pads,
                                  rhs_dilation=dilation,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  feature_group_count=groups)


def batch_norm_train(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float,
                     axis_name: str | None) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(y, batch mean, biased batch variance), the statistics over all but the last axis.

  In at least float32, the variance as E[x^2] - E[x]^2 clipped at 0, so that a
  cross-device mean over `axis_name` needs a single `lax.pmean`.
  """
  stats_x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  axes = tuple(range(x.ndim - 1))
  moments = jnp.stack([stats_x.mean(axes), (stats_x * stats_x).mean(axes)])
  if axis_name is not None:
    moments = lax.pmean(moments, axis_name)
  mean = moments[0]
  var = jnp.maximum(0.0, moments[1] - mean * mean)
  return normalize(x, scale, bias, mean, var, epsilon), mean, var


def normalize(x: jax.Array, scale: jax.Array, bias: jax.Array, mean: jax.Array,
              var: jax.Array, epsilon: float) -> jax.Array:
  """(x - mean) / sqrt(var + epsilon) * scale + bias, per channel (the last axis)."""
  return (x - mean) * (lax.rsqrt(var + epsilon) * scale) + bias
