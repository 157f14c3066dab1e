"""LeNet-5 exactly as LeCun, Bottou, Bengio & Haffner 1998 describe it (Sec. II-B).

C1 (6 maps) - S2 - C3 (16 maps, partially connected by Table I) - S4 - C5 (120) - F6 (84)
- output, on 32×32×1 inputs. The subsampling layers S2 and S4 are trainable: each map
sums its 2×2 windows, multiplies by a coefficient, adds a bias. Every layer up to F6
passes through the squashing function f(a) = 1.7159 tanh(2a/3) (Appendix A). The
output layer is an ordinary dense layer instead of the paper's Euclidean RBF units.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jcnn import nn as jnn
from jcnn.models.features import record
from jcnn.models.layers import Conv
from jcnn.models.registry import register

# Table I: the S2 maps each C3 map reads. Maps 0-5 read three neighbouring maps, 6-11
# four neighbouring ones, 12-14 four non-neighbouring ones, map 15 all six.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    tuple(tuple(sorted((j + d) % 6 for d in range(3))) for j in range(6))
    + tuple(tuple(sorted((j + d) % 6 for d in range(4))) for j in range(6))
    + ((0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5))
    + ((0, 1, 2, 3, 4, 5),))


def squash(x: jax.Array) -> jax.Array:
  """The paper's sigmoid, A tanh(S a) with A = 1.7159 and S = 2/3: f(±1) = ±1."""
  return 1.7159 * jnp.tanh(2.0 / 3.0 * x)


def uniform_fan_in(fan_in) -> nn.initializers.Initializer:
  """The paper's initialisation: uniform in ±2.4 / F, F the unit's number of inputs.

  `fan_in` is a number, or an array broadcasting against the parameter (one fan-in
  per output map where maps differ, as in C3).
  """
  def init(key, shape, dtype=jnp.float32):
    limit = 2.4 / jnp.asarray(fan_in, dtype)
    return jax.random.uniform(key, shape, dtype, -1.0, 1.0) * limit

  return init


def _fan_in_init(shape_without_out: tuple[int, ...]) -> nn.initializers.Initializer:
  return uniform_fan_in(math.prod(shape_without_out))


class Subsampling(nn.Module):
  """S2/S4: per map, the sum of each 2×2 window times a coefficient, plus a bias.

  Two trainable parameters per map. x: [batch, H, W, C] -> [batch, H/2, W/2, C],
  before the squashing function.
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    coefficient = self.param("coefficient", uniform_fan_in(4), (channels,))
    bias = self.param("bias", nn.initializers.zeros, (channels,))
    window_sum = 4.0 * jnn.avg_pool(x, 2, 2)
    return window_sum * coefficient + bias


class PartialConv(nn.Module):
  """A VALID convolution in which output map j reads only the input maps `table[j]`.

  Only the connected kernels are parameters: "kernel" is [k, k, connections], scattered
  into a dense [k, k, in, out] kernel whose other entries are zero, so unconnected maps
  never interact and there is nothing to mask or to train at those places.

  Attributes:
    table: for each output map, the input maps it reads.
    kernel_size: k.
  """
  table: tuple[tuple[int, ...], ...]
  kernel_size: int = 5

  def _connections(self) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.array([i for row in self.table for i in row])
    outputs = np.array([j for j, row in enumerate(self.table) for _ in row])
    return inputs, outputs

  def dense_kernel(self, kernel: jax.Array, in_channels: int) -> jax.Array:
    """[k, k, connections] -> [k, k, in_channels, len(table)], zero where unconnected."""
    inputs, outputs = self._connections()
    k = self.kernel_size
    dense = jnp.zeros((k, k, in_channels, len(self.table)), kernel.dtype)
    return dense.at[:, :, inputs, outputs].set(kernel)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [batch, H, W, in] -> [batch, H - k + 1, W - k + 1, len(table)]."""
    inputs, outputs = self._connections()
    if inputs.max() >= x.shape[-1]:
      raise ValueError(f"connection table reads input map {inputs.max()}, but x "
                       f"{tuple(x.shape)} has {x.shape[-1]} maps")
    k = self.kernel_size
    fan_in = np.array([k * k * len(self.table[j]) for j in outputs], np.float32)
    kernel = self.param("kernel", uniform_fan_in(fan_in), (k, k, len(inputs)))
    bias = self.param("bias", nn.initializers.zeros, (len(self.table),))
    return jnn.conv2d(x, self.dense_kernel(kernel, x.shape[-1]), bias, padding="VALID")


class LeNet1998(nn.Module):
  """LeNet-5 of the 1998 paper, with a dense output layer (60,850 parameters).

  Attributes:
    num_classes: output units.
  """
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 32, 32, 1] -> logits [batch, num_classes]."""
    if x.ndim != 4 or tuple(x.shape[1:]) != (32, 32, 1):
      raise ValueError(f"lenet5_1998 expects inputs [batch, 32, 32, 1], got {tuple(x.shape)}")
    x = squash(Conv(6, (5, 5), padding="VALID", kernel_init=_fan_in_init((5, 5, 1)),
                       name="c1")(x))
    x = record(self, "s2_out", squash(Subsampling(name="s2")(x)))
    x = squash(PartialConv(C3_TABLE, name="c3")(x))
    x = record(self, "s4_out", squash(Subsampling(name="s4")(x)))
    x = squash(Conv(120, (5, 5), padding="VALID", kernel_init=_fan_in_init((5, 5, 16)),
                       name="c5")(x))
    x = record(self, "c5_out", x).reshape(x.shape[0], -1)
    x = squash(nn.Dense(84, kernel_init=_fan_in_init((120,)), name="f6")(x))
    return nn.Dense(self.num_classes, kernel_init=_fan_in_init((84,)), name="output")(x)


register("lenet5_1998", input_shape=(32, 32, 1), num_classes=10,
         paper="LeCun, Bottou, Bengio & Haffner 1998, Gradient-Based Learning Applied to "
               "Document Recognition",
         num_params=60_850,
         params_source="LeCun et al. 1998 Sec. II-B: 60,000 trainable parameters through F6 "
                       "(C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164), plus the "
                       "dense output layer's 84 × 10 + 10 = 850",
         top1=0.9905, top1_source="LeCun et al. 1998, Sec. III-C (LeNet-5, MNIST test error "
                                  "0.95% without distortions; with the RBF output layer)",
         notes="the output layer is dense (logits for softmax cross-entropy) instead of the "
               "paper's RBF units with fixed ASCII-bitmap centres; C3 follows Table I (60 "
               "connections); trainable subsampling and 1.7159 tanh(2a/3) after every layer "
               "up to F6; the paper's U(±2.4 / fan-in) initialisation")(LeNet1998)
