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

`jcnn.kernels` picks this form on the CPU for the shapes where it was measured faster,
forward and backward (benchmarks/README.md).
"""
import jax
import jax.numpy as jnp
import numpy as np

from jcnn.padding import Pads, output_size


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


def conv(x: jax.Array, kernel: jax.Array, stride: tuple[int, int], pads: Pads,
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
