"""Inception-v4: Szegedy et al. 2017, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", Figures 3-9."""
import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.models.features import record
from jcnn.models.inception_blocks import (ConvUnit, ReductionA, avg_pool_3x3, chain,
                                          check_min_size, classifier, concat)
from jcnn.models.registry import register

LAYOUTS = ("paper", "tf_slim")


class Stem(nn.Module):
  """Figure 3, the stem of Inception-v4 and of the paper's Inception-ResNet-v2:
  299×299×3 -> 35×35×384. "V" layers are VALID, the others SAME.

  Also returns the last maps at strides 2 and 4, the model's first feature stages.
  """

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False
               ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """x: [batch, 299, 299, 3] -> ([batch, 147, 147, 64], [batch, 73, 73, 160],
    [batch, 35, 35, 384])."""
    x = chain(x, train, ConvUnit(32, 3, 2, "VALID", name="conv1"),
              ConvUnit(32, 3, padding="VALID", name="conv2"), ConvUnit(64, 3, name="conv3"))
    stride2 = x
    x = concat([jnn.max_pool(x, 3, 2, "VALID"),
                ConvUnit(96, 3, 2, "VALID", name="mixed_3a_conv")(x, train)])
    stride4 = x
    x = concat([
        chain(x, train, ConvUnit(64, name="mixed_4a_b0_1x1"),
              ConvUnit(96, 3, padding="VALID", name="mixed_4a_b0_3x3")),
        chain(x, train, ConvUnit(64, name="mixed_4a_b1_1x1"),
              ConvUnit(64, (1, 7), name="mixed_4a_b1_1x7"),
              ConvUnit(64, (7, 1), name="mixed_4a_b1_7x1"),
              ConvUnit(96, 3, padding="VALID", name="mixed_4a_b1_3x3")),
    ])
    x = concat([ConvUnit(192, 3, 2, "VALID", name="mixed_5a_conv")(x, train),
                jnn.max_pool(x, 3, 2, "VALID")])
    return stride2, stride4, x


class InceptionA(nn.Module):
  """Figure 4, 35×35: avg pool -> 1×1 96 | 1×1 96 | 1×1 64 -> 3×3 96 |
  1×1 64 -> 3×3 96 -> 3×3 96 (concatenated in TF-slim's order, pool last)."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 35, 35, 384] -> [batch, 35, 35, 384]."""
    return concat([
        ConvUnit(96, name="b0_1x1")(x, train),
        chain(x, train, ConvUnit(64, name="b1_1x1"), ConvUnit(96, 3, name="b1_3x3")),
        chain(x, train, ConvUnit(64, name="b2_1x1"), ConvUnit(96, 3, name="b2_3x3a"),
              ConvUnit(96, 3, name="b2_3x3b")),
        ConvUnit(96, name="b3_pool_1x1")(avg_pool_3x3(x), train),
    ])


class InceptionB(nn.Module):
  """Figure 5, 17×17: avg pool -> 1×1 128 | 1×1 384 | 1×1 192 -> 1×7 224 -> 7×1 256 |
  1×1 192 -> 1×7 192 -> 7×1 224 -> 1×7 224 -> 7×1 256; `tf_slim`: that last branch
  transposed, as TF-slim builds it (7×1 192 -> 1×7 224 -> 7×1 224 -> 1×7 256), under
  the same names."""
  tf_slim: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 17, 17, 1024] -> [batch, 17, 17, 1024]."""
    k1x7, k7x1 = ((7, 1), (1, 7)) if self.tf_slim else ((1, 7), (7, 1))
    return concat([
        ConvUnit(384, name="b0_1x1")(x, train),
        chain(x, train, ConvUnit(192, name="b1_1x1"), ConvUnit(224, (1, 7), name="b1_1x7"),
              ConvUnit(256, (7, 1), name="b1_7x1")),
        chain(x, train, ConvUnit(192, name="b2_1x1"), ConvUnit(192, k1x7, name="b2_1x7a"),
              ConvUnit(224, k7x1, name="b2_7x1a"), ConvUnit(224, k1x7, name="b2_1x7b"),
              ConvUnit(256, k7x1, name="b2_7x1b")),
        ConvUnit(128, name="b3_pool_1x1")(avg_pool_3x3(x), train),
    ])


class ReductionB(nn.Module):
  """Figure 8, 17×17 -> 8×8: 1×1 192 -> 3×3/2 192 | 1×1 256 -> 1×7 256 -> 7×1 320 ->
  3×3/2 320 | 3×3/2 max pool."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 17, 17, 1024] -> [batch, 8, 8, 1536]."""
    return concat([
        chain(x, train, ConvUnit(192, name="b0_1x1"),
              ConvUnit(192, 3, 2, "VALID", name="b0_3x3")),
        chain(x, train, ConvUnit(256, name="b1_1x1"), ConvUnit(256, (1, 7), name="b1_1x7"),
              ConvUnit(320, (7, 1), name="b1_7x1"), ConvUnit(320, 3, 2, "VALID", name="b1_3x3")),
        jnn.max_pool(x, 3, 2, "VALID"),
    ])


class InceptionC(nn.Module):
  """Figure 6, 8×8: avg pool -> 1×1 256 | 1×1 256 | 1×1 384 -> (1×3 256, 3×1 256) |
  1×1 384 -> 1×3 448 -> 3×1 512 -> (3×1 256, 1×3 256); `tf_slim`: that branch
  transposed, as TF-slim builds it (3×1 448 -> 1×3 512 -> (1×3 256, 3×1 256)), under
  the same names."""
  tf_slim: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 8, 8, 1536] -> [batch, 8, 8, 1536]."""
    k1x3, k3x1 = ((3, 1), (1, 3)) if self.tf_slim else ((1, 3), (3, 1))
    b1 = ConvUnit(384, name="b1_1x1")(x, train)
    b2 = chain(x, train, ConvUnit(384, name="b2_1x1"), ConvUnit(448, k1x3, name="b2_1x3"),
               ConvUnit(512, k3x1, name="b2_3x1"))
    return concat([
        ConvUnit(256, name="b0_1x1")(x, train),
        ConvUnit(256, (1, 3), name="b1_1x3")(b1, train),
        ConvUnit(256, (3, 1), name="b1_3x1")(b1, train),
        ConvUnit(256, k3x1, name="b2_3x1_out")(b2, train),
        ConvUnit(256, k1x3, name="b2_1x3_out")(b2, train),
        ConvUnit(256, name="b3_pool_1x1")(avg_pool_3x3(x), train),
    ])


class InceptionV4(nn.Module):
  """Inception-v4, Figure 9: stem, 4 × Inception-A, Reduction-A (k, l, m, n = 192, 224,
  256, 384), 7 × Inception-B, Reduction-B, 3 × Inception-C, average pool, dropout (keep
  0.8), linear. Batch norm (epsilon 1e-3, TF-slim) after every conv.

  Attributes:
    num_classes: output classes.
    dropout_rate: before the last linear layer (Figure 9: keep 0.8).
    layout: "paper" (Figures 5 and 6) or "tf_slim" (the authors' code, ported by timm
      with their weights), whose Inception-B and -C build their last factorised branch
      transposed; the parameters are the same in number.
  """
  num_classes: int = 1000
  dropout_rate: float = 0.2
  layout: str = "paper"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 299, 299, 3] -> logits [batch, num_classes]."""
    if self.layout not in LAYOUTS:
      raise ValueError(f"unknown inception_v4 layout {self.layout!r}; choose from {LAYOUTS}")
    check_min_size("inception_v4", x, 75)
    tf_slim = self.layout == "tf_slim"
    stride2, stride4, x = Stem(name="stem")(x, train)
    record(self, "stage1", stride2)
    record(self, "stage2", stride4)
    x = chain(x, train, *(InceptionA(name=f"inception_a{i}") for i in range(1, 5)))
    x = record(self, "stage3", x)
    x = ReductionA(192, 224, 256, 384, name="reduction_a")(x, train)
    x = chain(x, train, *(InceptionB(tf_slim, name=f"inception_b{i}") for i in range(1, 8)))
    x = record(self, "stage4", x)
    x = ReductionB(name="reduction_b")(x, train)
    x = chain(x, train, *(InceptionC(tf_slim, name=f"inception_c{i}") for i in range(1, 4)))
    x = record(self, "stage5", x)
    return classifier(self, x, self.num_classes, self.dropout_rate, train)


register(
    "inception_v4", input_shape=(299, 299, 3), num_classes=1000,
    paper="Szegedy et al. 2017, Inception-v4, Inception-ResNet and the Impact of Residual "
          "Connections on Learning",
    num_params=42_679_816,
    params_source="timm inception_v4 (port of TF-slim's, 1000 classes)",
    top1=0.800,
    top1_source="Szegedy et al. 2017 Table 2: 20.0% top-1 error, single crop, single "
                "model (non-blacklisted ILSVRC 2012 validation subset)",
    min_input_size=75, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    notes="Matches the paper; branch order as TF-slim. TF-slim (and timm, which ports its "
          "weights) transposes the last factorised branch of Inception-B and -C "
          "(layout='tf_slim'; same count). Inputs scaled to [-1, 1] as TF-slim/timm.",
)(InceptionV4)
