"""Inception-ResNet-v1 and -v2: Szegedy et al. 2017, "Inception-v4, Inception-ResNet and
the Impact of Residual Connections on Learning", Figures 10-19."""
import functools
from typing import NamedTuple

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.models.features import record
from jcnn.models.inception_blocks import (ConvUnit, ReductionA, avg_pool_3x3, chain,
                                          check_min_size, classifier, concat)
from jcnn.models.layers import Conv
from jcnn.models.registry import register

# A branch is a sequence of (features, kernel) convs; a block is a tuple of branches.
Branch = tuple[tuple[int, int | tuple[int, int]], ...]


class InceptionResNetBlock(nn.Module):
  """A residual Inception block (Figures 10, 11, 13 / 16, 17, 19).

  The branches run side by side and are concatenated; a linear 1×1 conv (with bias,
  without batch norm: "batch-normalization only on top of the traditional layers")
  restores the input width; its output, times `scale`, is added to the input; then ReLU.

  Attributes:
    branches: per branch, its (features, kernel) convs from input to concatenation.
    scale: residual scaling (Section 3.3, "between 0.1 and 0.3").
    activation: ReLU after the sum (TF-slim's last 8×8 block of v2 has none).
  """
  branches: tuple[Branch, ...]
  scale: float
  activation: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, h, w, c] -> [batch, h, w, c]."""
    outputs = [chain(x, train, *(ConvUnit(f, k, name=f"branch{i}_{j}")
                                 for j, (f, k) in enumerate(branch)))
               for i, branch in enumerate(self.branches)]
    up = Conv(x.shape[-1], (1, 1), name="up")(concat(outputs))
    x = x + self.scale * up
    return jax.nn.relu(x) if self.activation else x


class ReductionB(nn.Module):
  """Reduction-B of the residual networks (Figures 12 and 18), 17×17 -> 8×8:
  1×1 256 -> 3×3/2 384 | 1×1 256 -> 3×3/2 `b1` | 1×1 256 -> 3×3 `b2[0]` -> 3×3/2 `b2[1]` |
  3×3/2 max pool."""
  b1: int
  b2: tuple[int, int]

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 17, 17, c] -> [batch, 8, 8, 384 + b1 + b2[1] + c]."""
    return concat([
        chain(x, train, ConvUnit(256, name="b0_1x1"),
              ConvUnit(384, 3, 2, "VALID", name="b0_3x3")),
        chain(x, train, ConvUnit(256, name="b1_1x1"),
              ConvUnit(self.b1, 3, 2, "VALID", name="b1_3x3")),
        chain(x, train, ConvUnit(256, name="b2_1x1"), ConvUnit(self.b2[0], 3, name="b2_3x3a"),
              ConvUnit(self.b2[1], 3, 2, "VALID", name="b2_3x3b")),
        jnn.max_pool(x, 3, 2, "VALID"),
    ])


class Mixed5b(nn.Module):
  """TF-slim's 35×35 Inception module closing the v2 stem: 1×1 96 | 1×1 48 -> 5×5 64 |
  1×1 64 -> 3×3 96 -> 3×3 96 | avg pool -> 1×1 64."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 35, 35, 192] -> [batch, 35, 35, 320]."""
    return concat([
        ConvUnit(96, name="b0_1x1")(x, train),
        chain(x, train, ConvUnit(48, name="b1_1x1"), ConvUnit(64, 5, name="b1_5x5")),
        chain(x, train, ConvUnit(64, name="b2_1x1"), ConvUnit(96, 3, name="b2_3x3a"),
              ConvUnit(96, 3, name="b2_3x3b")),
        ConvUnit(64, name="b3_pool_1x1")(avg_pool_3x3(x), train),
    ])


class Config(NamedTuple):
  """What distinguishes v1 from v2.

  Attributes:
    stem: "figure14" (35×35×256) or "tf_slim" (Inception-v3's stem + Mixed_5b,
      35×35×320).
    num_blocks: how many 35×35, 17×17 and 8×8 residual blocks.
    block_a, block_b, block_c: the residual blocks' branches.
    reduction_a: (k, l, m, n) of Reduction-A (Table 1).
    reduction_b: (b1, b2) of ReductionB.
    scales: residual scaling of the 35×35, 17×17 and 8×8 blocks.
    last_block_linear: the last 8×8 block is unscaled and has no ReLU (TF-slim).
    final_conv: width of a 1×1 conv before pooling (0: none).
  """
  stem: str
  num_blocks: tuple[int, int, int]
  block_a: tuple[Branch, ...]
  block_b: tuple[Branch, ...]
  block_c: tuple[Branch, ...]
  reduction_a: tuple[int, int, int, int]
  reduction_b: tuple[int, tuple[int, int]]
  scales: tuple[float, float, float]
  last_block_linear: bool
  final_conv: int


# Figures 14, 10, 11, 13, 12, 15 and Table 1 of the paper. Scales: the paper only says
# 0.1-0.3; these are TF-slim's (0.17, 0.1, 0.2), also used by FaceNet's v1.
V1 = Config(
    stem="figure14", num_blocks=(5, 10, 5),
    block_a=(((32, 1),), ((32, 1), (32, 3)), ((32, 1), (32, 3), (32, 3))),
    block_b=(((128, 1),), ((128, 1), (128, (1, 7)), (128, (7, 1)))),
    block_c=(((192, 1),), ((192, 1), (192, (1, 3)), (192, (3, 1)))),
    reduction_a=(192, 192, 256, 384), reduction_b=(256, (256, 256)),
    scales=(0.17, 0.1, 0.2), last_block_linear=False, final_conv=0)

# TF-slim's inception_resnet_v2 (ported by Keras and timm), the authors' released model.
V2 = Config(
    stem="tf_slim", num_blocks=(10, 20, 10),
    block_a=(((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))),
    block_b=(((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))),
    block_c=(((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))),
    reduction_a=(256, 256, 384, 384), reduction_b=(288, (288, 320)),
    scales=(0.17, 0.1, 0.2), last_block_linear=True, final_conv=1536)


class InceptionResNet(nn.Module):
  """Inception-ResNet (Figure 15): stem, residual 35×35 blocks, Reduction-A, residual
  17×17 blocks, Reduction-B, residual 8×8 blocks, average pool, dropout (keep 0.8),
  linear. Batch norm (epsilon 1e-3) after every conv except the residual up-projections.

  Attributes:
    num_classes: output classes.
    config: V1 or V2.
    dropout_rate: before the last linear layer (Figure 15: keep 0.8).
  """
  config: Config
  num_classes: int = 1000
  dropout_rate: float = 0.2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 299, 299, 3] -> logits [batch, num_classes]."""
    cfg = self.config
    if cfg.stem not in ("figure14", "tf_slim"):
      raise ValueError(f"unknown stem {cfg.stem!r}; choose 'figure14' or 'tf_slim'")
    check_min_size("inception_resnet", x, 75)
    x = chain(x, train, ConvUnit(32, 3, 2, "VALID", name="stem_conv1"),
              ConvUnit(32, 3, padding="VALID", name="stem_conv2"),
              ConvUnit(64, 3, name="stem_conv3"))
    x = record(self, "stage1", x)
    x = jnn.max_pool(x, 3, 2, "VALID")
    x = chain(x, train, ConvUnit(80, name="stem_conv4"),
              ConvUnit(192, 3, padding="VALID", name="stem_conv5"))
    x = record(self, "stage2", x)
    if cfg.stem == "figure14":
      x = ConvUnit(256, 3, 2, "VALID", name="stem_conv6")(x, train)
    else:
      x = Mixed5b(name="mixed_5b")(jnn.max_pool(x, 3, 2, "VALID"), train)

    block = InceptionResNetBlock
    scale_a, scale_b, scale_c = cfg.scales
    n_a, n_b, n_c = cfg.num_blocks
    x = chain(x, train, *(block(cfg.block_a, scale_a, name=f"block35_{i}")
                          for i in range(1, n_a + 1)))
    x = record(self, "stage3", x)
    x = ReductionA(*cfg.reduction_a, name="reduction_a")(x, train)
    x = chain(x, train, *(block(cfg.block_b, scale_b, name=f"block17_{i}")
                          for i in range(1, n_b + 1)))
    x = record(self, "stage4", x)
    x = ReductionB(*cfg.reduction_b, name="reduction_b")(x, train)
    for i in range(1, n_c + 1):
      last = cfg.last_block_linear and i == n_c
      x = block(cfg.block_c, 1.0 if last else scale_c, activation=not last,
                name=f"block8_{i}")(x, train)
    if cfg.final_conv:
      x = ConvUnit(cfg.final_conv, name="conv_7b")(x, train)
    x = record(self, "stage5", x)
    return classifier(self, x, self.num_classes, self.dropout_rate, train)


InceptionResNetV1 = functools.partial(InceptionResNet, config=V1)
InceptionResNetV2 = functools.partial(InceptionResNet, config=V2)

_PAPER = ("Szegedy et al. 2017, Inception-v4, Inception-ResNet and the Impact of Residual "
          "Connections on Learning")

register(
    "inception_resnet_v1", input_shape=(299, 299, 3), num_classes=1000, paper=_PAPER,
    num_params=22_756_328,
    params_source="the paper's Figures 10-15 and Table 1, layer by layer (computed; no "
                  "reference implementation publishes a count)",
    top1=0.787,
    top1_source="Szegedy et al. 2017 Table 2: 21.3% top-1 error, single crop, single "
                "model (non-blacklisted ILSVRC 2012 validation subset)",
    min_input_size=75, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    notes="Figure 14 stem (35×35×256); 5/10/5 residual blocks (Figure 15) of widths 256, "
          "896 and 1792, all consistent with Reduction-A (192, 192, 256, 384) and "
          "Figure 12. Residual scales 0.17/0.1/0.2 (TF-slim's; the paper: 0.1-0.3). "
          "Up-projections have biases, no batch norm (TF-slim).",
)(InceptionResNetV1)

register(
    "inception_resnet_v2", input_shape=(299, 299, 3), num_classes=1000, paper=_PAPER,
    num_params=55_843_464,
    params_source="timm inception_resnet_v2 (port of TF-slim's); Keras InceptionResNetV2 "
                  "55,873,736 = this - 30,272 BN scales + 60,544 BN moving statistics",
    top1=0.801,
    top1_source="Szegedy et al. 2017 Table 2: 19.9% top-1 error, single crop, single "
                "model (TF-slim's released checkpoint: 80.4%)",
    min_input_size=75, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    notes="The authors' released TF-slim model (also Keras' and timm's), not the paper's "
          "figures, whose widths do not add up: Figure 17's 1×1 1154 and Figure 19's 2048 "
          "cannot be added to the 1152- and 2144-channel inputs. TF-slim: Inception-v3 "
          "stem + Mixed_5b (35×35×320) instead of Figure 3; 10/20/10 blocks instead of "
          "5/10/5; the last 8×8 block unscaled and linear; a 1×1 1536 conv before "
          "pooling. No auxiliary classifier (Keras and timm have none).",
)(InceptionResNetV2)
