"""Convolution as one matrix product per kernel row: XLA:CPU's fast path for thin convs.

XLA:CPU runs convolutions with few channels (LeNet's 1 -> 6 and 6 -> 16, a 5×5 kernel
over a 5×5 input) at a few GFLOP/s, and their weight and input gradients slower still.
Written as matrix products they run at GEMM speed: a k×k convolution is the sum over
kernel rows i of `rows_i @ T_i`, where rows_i holds input row h·stride + i of every
output row h (width × channels values) and T_i is a banded (Toeplitz) matrix built
from kernel row i, T_i[(x, c), (v, o)] = kernel[i, j, c, o] where x = v·stride + j·dilation.
The band repeats the kernel over the width, so this does width / kernel_width times
the multiply-adds of a direct convolution: cheap for thin layers, and exactly a dense
layer when the kernel covers the whole input (the output is 1×1).

`conv2d` (jcnn.nn.conv) takes this path on the CPU where `gemm_is_faster` says so; the
shapes it accepts were measured faster, forward and backward (benchmarks/README.md).
Analyses that read convolutions out of a jaxpr (receptive fields, FLOPs) trace
inside `jcnn.nn.lowering.xla_ops()`, where every convolution stays
`conv_general_dilated`.
"""
import jax
import jax.numpy as jnp
import numpy as np

from jcnn.nn.padding import output_size

Pads = tuple[tuple[int, int], tuple[int, int]]
# Measured on a 2-core AMD EPYC (benchmarks/conv_lowering.py, benchmarks/README.md):
# 1.3-3.6x faster for stride-1 layers with a channel product up to 256 whose band is
# at most 8x the direct work, and for kernels as wide as the input; slower for strided
# layers and for one input channel into a multiple of 16, which XLA:CPU vectorises well.
_MAX_CHANNEL_PRODUCT = 256
_MAX_EXTRA_WORK = 8


def gemm_is_faster(x_shape, kernel_shape, stride: tuple[int, int], pads: Pads,
                   dilation: tuple[int, int], groups: int, against_onednn: bool = False
                   ) -> bool:
  """Whether the banded-GEMM form beats XLA:CPU's convolution for these shapes.

  `against_onednn`: beats oneDNN's convolution instead (jcnn.nn.onednn), which is
  faster than the band except where the kernel covers the whole width: a dense layer.
  """
  if groups != 1 or jax.default_backend() != "cpu":
    return False
  _, _, width, in_channels = x_shape
  _, kernel_w, _, out_channels = kernel_shape
  padded_w = width + sum(pads[1])
  span_w = dilation[1] * (kernel_w - 1) + 1
  if span_w == padded_w:  # the kernel covers the width: one dense product per row
    return True
  return (not against_onednn and tuple(stride) == (1, 1)
          and in_channels * out_channels <= _MAX_CHANNEL_PRODUCT
          and padded_w <= _MAX_EXTRA_WORK * span_w
          and not (in_channels == 1 and out_channels % 16 == 0))


def banded_kernel(kernel: jax.Array, in_width: int, out_width: int, stride: int,
                  dilation: int) -> jax.Array:
  """[kh, in_width * in, out_width * out]: kernel row i repeated along the band."""
  kernel_h, kernel_w, in_channels, out_channels = kernel.shape
  if out_width == 1 and in_width == kernel_w:  # a dense layer: the band is the kernel
    return kernel.reshape(kernel_h, in_width * in_channels, out_channels)
  # place[j, x, v] = 1 where input column x meets kernel column j for output column v.
  place = (np.arange(in_width)[None, :, None]
           == stride * np.arange(out_width)[None, None, :]
           + dilation * np.arange(kernel_w)[:, None, None]).astype(kernel.dtype)
  band = jnp.einsum("jxv,ijco->ixcvo", place, kernel)
  return band.reshape(kernel_h, in_width * in_channels, out_width * out_channels)


def conv_as_gemm(x: jax.Array, kernel: jax.Array, stride: tuple[int, int], pads: Pads,
                 dilation: tuple[int, int] = (1, 1)) -> jax.Array:
  """`lax.conv_general_dilated` (NHWC, HWIO, explicit padding) as banded GEMMs."""
  x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
  n, height, width, in_channels = x.shape
  kernel_h, _, _, out_channels = kernel.shape
  out_h, out_w = output_size((height, width), kernel.shape, stride, ((0, 0), (0, 0)),
                             dilation)
  band = banded_kernel(kernel, width, out_w, stride[1], dilation[1])
  last = stride[0] * (out_h - 1) + 1
  rows = jnp.stack([x[:, dilation[0] * i:dilation[0] * i + last:stride[0]]
                    for i in range(kernel_h)], axis=2)  # [n, out_h, kh, width, in]
  rows = rows.reshape(n * out_h, kernel_h * width * in_channels)
  y = rows @ band.reshape(kernel_h * width * in_channels, out_w * out_channels)
  return y.reshape(n, out_h, out_w, out_channels)
