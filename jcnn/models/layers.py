"""Linen layers that compute through jcnn.nn's pure functions."""
from collections.abc import Sequence

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.nn.padding import Padding, to_pair


class Conv(nn.Module):
  """`flax.linen.Conv` for NHWC inputs, computed by `jcnn.nn.conv2d`.

  Same fields, parameters ("kernel" [kh, kw, in / groups, features], "bias") and
  initialisers as Flax's, so checkpoints and parameter counts do not change; the
  computation goes through `jcnn.nn.conv2d`, which trains thin layers through
  matrix products on the CPU (`jcnn.nn.banded_conv`).
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
