"""BN-Inception (Inception v2): Ioffe & Szegedy 2015, "Batch Normalization: Accelerating
Deep Network Training by Reducing Internal Covariate Shift", Figure 5."""
import functools

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.features import record
from jcnn.models.inception_blocks import (ConvUnit, avg_pool_3x3, chain, check_min_size,
                                          classifier, concat)
from jcnn.models.layers import Conv
from jcnn.models.registry import register

# Figure 5: #1×1, #3×3 reduce, #3×3, double #3×3 reduce, double #3×3, pool, pool proj,
# stride. Stride-2 modules (3c, 4e) have no 1×1 branch and pass the max pool through.
FIGURE_5 = {
    "3a": (64, 64, 64, 64, 96, "avg", 32, 1),
    "3b": (64, 64, 96, 64, 96, "avg", 64, 1),
    "3c": (0, 128, 160, 64, 96, "max", 0, 2),
    "4a": (224, 64, 96, 96, 128, "avg", 128, 1),
    "4b": (192, 96, 128, 96, 128, "avg", 128, 1),
    "4c": (160, 128, 160, 128, 160, "avg", 128, 1),
    "4d": (96, 128, 192, 160, 192, "avg", 128, 1),
    "4e": (0, 128, 192, 192, 256, "max", 0, 2),
    "5a": (352, 192, 320, 160, 224, "avg", 128, 1),
    "5b": (352, 192, 320, 192, 224, "max", 128, 1),
}

_conv = functools.partial(ConvUnit, epsilon=1e-5)


class BNInceptionModule(nn.Module):
  """An Inception module of Figure 5: GoogLeNet's 5×5 branch becomes two 3×3 convs.

  Stride 2 (3c, 4e): the 3×3 branches end in stride-2 convs and the 3×3/2 max pool is
  passed through without projection. Every conv is followed by batch norm and ReLU.

  Attributes:
    widths: a row of FIGURE_5.
  """
  widths: tuple

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, h, w, c] -> [batch, h / stride, w / stride, sum of branch widths]."""
    n1x1, n3x3_reduce, n3x3, double_reduce, double, pool, pool_proj, stride = self.widths
    branches = []
    if n1x1:
      branches.append(_conv(n1x1, name="1x1")(x, train))
    branches.append(chain(x, train, _conv(n3x3_reduce, name="3x3_reduce"),
                          _conv(n3x3, 3, stride, name="3x3")))
    branches.append(chain(x, train, _conv(double_reduce, name="double_3x3_reduce"),
                          _conv(double, 3, name="double_3x3_1"),
                          _conv(double, 3, stride, name="double_3x3_2")))
    if pool == "max":
      pooled = jnn.max_pool(x, 3, stride, "SAME")
    else:
      pooled = avg_pool_3x3(x)
    branches.append(_conv(pool_proj, name="pool_proj")(pooled, train) if pool_proj else pooled)
    return concat(branches)


class BNInception(nn.Module):
  """BN-Inception, Figure 5 of the paper.

  conv 7×7/2 64 - max pool 3×3/2 - conv 1×1 64 - conv 3×3 192 - max pool 3×3/2 -
  inception 3a, 3b, 3c (stride 2) - 4a…4d, 4e (stride 2) - 5a, 5b - average pool -
  linear, with batch norm after every convolution and no LRN or dropout (Section 4.2.1
  removes both). The first conv is separable with depth multiplier 8, as the paper's
  appendix and TF-slim do; `separable_stem=False` gives the plain 7×7 conv of the Caffe
  and MXNet replications. SAME padding throughout (TF-slim); the 7×7/1 average pool on
  the 7×7 map of a 224×224 input is global average pooling, so smaller inputs also run.
  No auxiliary classifiers: the paper does not use them.

  Attributes:
    num_classes: output classes.
    separable_stem: depthwise 7×7 (multiplier 8) + pointwise 64 instead of a full 7×7.
  """
  num_classes: int = 1000
  separable_stem: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 224, 224, 3] -> logits [batch, num_classes]."""
    check_min_size("inception_v2", x, 1)
    if self.separable_stem:
      x = Conv(3 * 8, (7, 7), 2, padding="SAME", feature_group_count=3, use_bias=False,
                  name="conv1_depthwise")(x)
      x = _conv(64, name="conv1")(x, train)
    else:
      x = _conv(64, 7, 2, name="conv1")(x, train)
    x = record(self, "stage1", x)
    x = jnn.max_pool(x, 3, 2, "SAME")
    x = chain(x, train, _conv(64, name="conv2_reduce"), _conv(192, 3, name="conv2"))
    x = record(self, "stage2", x)
    x = jnn.max_pool(x, 3, 2, "SAME")
    stage_ends = {"3b": "stage3", "4d": "stage4", "5b": "stage5"}
    for name, widths in FIGURE_5.items():
      x = BNInceptionModule(widths, name=f"inception_{name}")(x, train)
      if name in stage_ends:
        x = record(self, stage_ends[name], x)
    return classifier(self, x, self.num_classes, 0.0, train)


register(
    "inception_v2", input_shape=(224, 224, 3), num_classes=1000,
    paper="Ioffe & Szegedy 2015, Batch Normalization: Accelerating Deep Network Training "
          "by Reducing Internal Covariate Shift (BN-Inception, Figure 5)",
    num_params=11_278_528,
    params_source="Figure 5 of the paper, layer by layer (computed; no published count): "
                  "separable first conv, no conv biases under batch norm",
    top1=0.748,
    top1_source="Szegedy et al. 2017 (Inception-v4 paper) Table 2: BN-Inception 25.2% "
                "top-1 error, single crop; = BN-x30 74.8% in the BN paper's Figure 3",
    min_input_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD,
    notes="Figure 5's widths give 608 channels after 4c and 4d and 1056 after 4e, not "
          "the 576/1024 of its output column; Caffe (Cadene's bninception) and MXNet's "
          "inception-bn keep the widths, TF-slim cuts the pool projections of its 4c/4d to "
          "96. Cadene's bninception (Caffe port) has 11,295,240 parameters: a plain 7×7 "
          "first conv (separable_stem=False: 11,285,224) plus a bias on each of the "
          "10,016 conv channels.",
)(BNInception)
