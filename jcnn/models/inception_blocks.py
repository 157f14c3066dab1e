"""Pieces every Inception network is made of: the conv(-BN)-ReLU unit, the filter
concatenation, the classifier head, the input-size check and Reduction-A.

Registers no model; the families are googlenet.py, inception_v2.py, inception_v3.py,
inception_v4.py and inception_resnet.py.
"""
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jcnn import nn as jnn
from jcnn.models.layers import BatchNorm, Conv
from jcnn.padding import Padding, to_pair


class ConvUnit(nn.Module):
  """Convolution, batch norm (optional) and ReLU: the unit of every Inception branch.

  With batch norm the convolution has no bias: BN's shift replaces it (Ioffe &
  Szegedy 2015, §3.2), as in torchvision, Keras and timm. Without batch norm
  (GoogLeNet) the convolution keeps its bias, as in Caffe.

  Attributes:
    features: output channels.
    kernel_size: int or (height, width), e.g. (1, 7) for a factorised 7×7.
    strides: int or pair.
    padding: anything `flax.linen.Conv` takes: "SAME", "VALID", or explicit pads.
    batch_norm: normalise before the ReLU.
    epsilon: batch-norm epsilon (TF-slim, Keras and timm use 1e-3 for Inception).
  """
  features: int
  kernel_size: int | tuple[int, int] = 1
  strides: int | tuple[int, int] = 1
  padding: Padding = "SAME"
  batch_norm: bool = True
  epsilon: float = 1e-3

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, height, width, in] -> [batch, out_height, out_width, features]."""
    padding = self.padding
    if isinstance(padding, int):
      padding = ((padding, padding), (padding, padding))
    x = Conv(self.features, to_pair(self.kernel_size, "kernel_size"),
                to_pair(self.strides, "strides"), padding=padding,
                use_bias=not self.batch_norm, name="conv")(x)
    if self.batch_norm:
      x = BatchNorm(use_running_average=not train, momentum=0.9, epsilon=self.epsilon,
                       name="bn")(x)
    return jax.nn.relu(x)


def concat(branches: Sequence[jax.Array]) -> jax.Array:
  """The filter concatenation: branch outputs stacked along channels."""
  return jnp.concatenate(branches, axis=-1)


def chain(x: jax.Array, train: bool, *layers: nn.Module) -> jax.Array:
  """Applies `layers` (each called as `layer(x, train)`) one after another."""
  for layer in layers:
    x = layer(x, train)
  return x


def avg_pool_3x3(x: jax.Array, count_include_pad: bool = False) -> jax.Array:
  """The 3×3/1 average pool of the pooling branches, TF's "SAME" (padding not counted).

  TF-slim and Keras, the authors' code, average over real cells only; torchvision's
  Inception v3 counts the padding (`count_include_pad`). No parameters either way.
  """
  return jnn.avg_pool(x, 3, 1, "SAME", count_include_pad=count_include_pad)


def check_min_size(name: str, x: jax.Array, min_size: int, why: str = ""):
  """Raises unless `x` is [batch, height, width, 3] with both sides >= `min_size`."""
  if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3]) < min_size:
    reason = f" ({why})" if why else ""
    raise ValueError(f"{name} expects inputs [batch, height, width, 3] with height and width "
                     f">= {min_size}{reason}, got {tuple(x.shape)}")


def classifier(module: nn.Module, x: jax.Array, num_classes: int, dropout_rate: float,
               train: bool) -> jax.Array:
  """Global average pool, dropout and the last linear layer (named "fc").

  Args:
    module: the model; it owns the dense layer and draws the dropout key.
    x: [batch, height, width, channels], the last feature map.
    num_classes: output classes.
    dropout_rate: drop probability before the linear layer.
    train: dropout is active only in training.

  Returns:
    logits [batch, num_classes].
  """
  x = jnn.global_avg_pool(x)
  key = module.make_rng("dropout") if train and dropout_rate > 0 else None
  x = jnn.dropout(x, dropout_rate, key, deterministic=not train)
  return nn.Dense(num_classes, name="fc")(x)


class ReductionA(nn.Module):
  """Reduction-A (Szegedy et al. 2017, Figure 7): 35×35 -> 17×17.

  Branches: 3×3/2 conv n; 1×1 k -> 3×3 l -> 3×3/2 m; 3×3/2 max pool (stride-2 layers
  VALID), concatenated in TF-slim's order. Output channels: n + m + in. Table 1 of the
  paper gives (k, l, m, n) per network: Inception-v4 (192, 224, 256, 384),
  Inception-ResNet-v1 (192, 192, 256, 384), Inception-ResNet-v2 (256, 256, 384, 384).
  """
  k: int
  l: int
  m: int
  n: int

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 35, 35, c] -> [batch, 17, 17, n + m + c]."""
    conv = ConvUnit(self.n, 3, 2, "VALID", name="branch_3x3")(x, train)
    double = chain(x, train,
                   ConvUnit(self.k, 1, name="branch_double_1x1"),
                   ConvUnit(self.l, 3, name="branch_double_3x3a"),
                   ConvUnit(self.m, 3, 2, "VALID", name="branch_double_3x3b"))
    return concat([conv, double, jnn.max_pool(x, 3, 2, "VALID")])
