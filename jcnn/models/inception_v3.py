"""Inception v3: Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer
Vision", in the layout of torchvision's and Keras' implementations (TF-slim's)."""
import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.models.features import record
from jcnn.models.inception_blocks import (ConvUnit, avg_pool_3x3, chain, check_min_size,
                                          classifier, concat)
from jcnn.models.registry import register

LAYOUTS = ("tf_slim", "torchvision")


class InceptionA(nn.Module):
  """35×35 module (Figure 5: 5×5 factorised): 1×1 64 | 1×1 48 -> 5×5 64 |
  1×1 64 -> 3×3 96 -> 3×3 96 | avg pool -> 1×1 `pool_features`; `count_include_pad`:
  the average pool's, torchvision's layout."""
  pool_features: int
  count_include_pad: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 35, 35, c] -> [batch, 35, 35, 224 + pool_features]."""
    return concat([
        ConvUnit(64, name="branch1x1")(x, train),
        chain(x, train, ConvUnit(48, name="branch5x5_1"), ConvUnit(64, 5, name="branch5x5_2")),
        chain(x, train, ConvUnit(64, name="branch3x3dbl_1"),
              ConvUnit(96, 3, name="branch3x3dbl_2"), ConvUnit(96, 3, name="branch3x3dbl_3")),
        ConvUnit(self.pool_features, name="branch_pool")(
            avg_pool_3x3(x, self.count_include_pad), train),
    ])


class InceptionB(nn.Module):
  """35×35 -> 17×17 grid reduction (Figure 10): stride-2 convs beside a max pool."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 35, 35, 288] -> [batch, 17, 17, 768]."""
    return concat([
        ConvUnit(384, 3, 2, "VALID", name="branch3x3")(x, train),
        chain(x, train, ConvUnit(64, name="branch3x3dbl_1"),
              ConvUnit(96, 3, name="branch3x3dbl_2"),
              ConvUnit(96, 3, 2, "VALID", name="branch3x3dbl_3")),
        jnn.max_pool(x, 3, 2, "VALID"),
    ])


class InceptionC(nn.Module):
  """17×17 module (Figure 6: n×n factorised into 1×n and n×1, n = 7); `channels_7x7`
  is the width inside the factorised branches (128, 160, 160, 192 in 6b…6e)."""
  channels_7x7: int
  count_include_pad: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 17, 17, 768] -> [batch, 17, 17, 768]."""
    c7 = self.channels_7x7
    return concat([
        ConvUnit(192, name="branch1x1")(x, train),
        chain(x, train, ConvUnit(c7, name="branch7x7_1"), ConvUnit(c7, (1, 7), name="branch7x7_2"),
              ConvUnit(192, (7, 1), name="branch7x7_3")),
        chain(x, train, ConvUnit(c7, name="branch7x7dbl_1"),
              ConvUnit(c7, (7, 1), name="branch7x7dbl_2"),
              ConvUnit(c7, (1, 7), name="branch7x7dbl_3"),
              ConvUnit(c7, (7, 1), name="branch7x7dbl_4"),
              ConvUnit(192, (1, 7), name="branch7x7dbl_5")),
        ConvUnit(192, name="branch_pool")(avg_pool_3x3(x, self.count_include_pad), train),
    ])


class InceptionD(nn.Module):
  """17×17 -> 8×8 grid reduction."""

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 17, 17, 768] -> [batch, 8, 8, 1280]."""
    return concat([
        chain(x, train, ConvUnit(192, name="branch3x3_1"),
              ConvUnit(320, 3, 2, "VALID", name="branch3x3_2")),
        chain(x, train, ConvUnit(192, name="branch7x7x3_1"),
              ConvUnit(192, (1, 7), name="branch7x7x3_2"),
              ConvUnit(192, (7, 1), name="branch7x7x3_3"),
              ConvUnit(192, 3, 2, "VALID", name="branch7x7x3_4")),
        jnn.max_pool(x, 3, 2, "VALID"),
    ])


class InceptionE(nn.Module):
  """8×8 module (Figure 7: expanded filter bank, 3×3 split into parallel 1×3 and 3×1)."""
  count_include_pad: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 8, 8, c] -> [batch, 8, 8, 2048]."""
    b3x3 = ConvUnit(384, name="branch3x3_1")(x, train)
    dbl = chain(x, train, ConvUnit(448, name="branch3x3dbl_1"),
                ConvUnit(384, 3, name="branch3x3dbl_2"))
    return concat([
        ConvUnit(320, name="branch1x1")(x, train),
        ConvUnit(384, (1, 3), name="branch3x3_2a")(b3x3, train),
        ConvUnit(384, (3, 1), name="branch3x3_2b")(b3x3, train),
        ConvUnit(384, (1, 3), name="branch3x3dbl_3a")(dbl, train),
        ConvUnit(384, (3, 1), name="branch3x3dbl_3b")(dbl, train),
        ConvUnit(192, name="branch_pool")(avg_pool_3x3(x, self.count_include_pad), train),
    ])


class InceptionAux(nn.Module):
  """The auxiliary classifier on the 17×17 grid (Figure 8, batch-normalised as
  Section 7's "BN-auxiliary"): 5×5/3 average pool, 1×1 conv 128, 5×5 conv 768
  (the FC layer, on the 5×5 map), linear."""
  num_classes: int

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    """x: [batch, 17, 17, 768] -> logits [batch, num_classes]."""
    x = jnn.avg_pool(x, 5, 3, "VALID")
    x = chain(x, train, ConvUnit(128, name="conv0"), ConvUnit(768, 5, padding="VALID",
                                                              name="conv1"))
    return nn.Dense(self.num_classes, name="fc")(jnn.global_avg_pool(x))


class InceptionV3(nn.Module):
  """Inception v3 as torchvision, Keras and TF-slim build it (Table 1 of the paper).

  Stem: 3×3/2 32 V, 3×3 32 V, 3×3 64, max pool 3×3/2, 1×1 80, 3×3 192 V, max pool
  3×3/2 (299 -> 35); 3 × InceptionA (35×35×288); InceptionB (17×17×768); 4 × InceptionC;
  InceptionD (8×8×1280); 2 × InceptionE (8×8×2048); global average pool, dropout, linear.
  Batch norm (epsilon 1e-3) after every conv, none with bias.

  With `aux_logits` the auxiliary classifier on the last 17×17 module is built and, in
  training, the model returns `(logits, (aux,))`; its loss is weighted 0.4.

  Attributes:
    num_classes: output classes.
    aux_logits: build the auxiliary classifier.
    dropout_rate: before the last linear layer; TF-slim's keep probability 0.8
      (torchvision uses 0.5, Keras none).
    layout: "tf_slim" (also Keras') or "torchvision", whose pooling branches' 3×3
      average divides by 9 at the borders too, padding included; the parameters are
      the same.
  """
  num_classes: int = 1000
  aux_logits: bool = True
  dropout_rate: float = 0.2
  layout: str = "tf_slim"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    """x: [batch, 299, 299, 3] -> logits, or (logits, (aux,)) in training."""
    if self.layout not in LAYOUTS:
      raise ValueError(f"unknown inception_v3 layout {self.layout!r}; choose from {LAYOUTS}")
    pad = self.layout == "torchvision"  # the average pools count their padding
    run_aux = self.aux_logits and (train or self.is_initializing())
    if run_aux:
      check_min_size("inception_v3", x, 299, "the auxiliary classifier's 5×5 conv needs "
                     "the 17×17 grid; 75 without it")
    else:
      check_min_size("inception_v3", x, 75)
    x = chain(x, train, ConvUnit(32, 3, 2, "VALID", name="Conv2d_1a_3x3"),
              ConvUnit(32, 3, padding="VALID", name="Conv2d_2a_3x3"),
              ConvUnit(64, 3, name="Conv2d_2b_3x3"))
    x = record(self, "stage1", x)
    x = jnn.max_pool(x, 3, 2, "VALID")
    x = chain(x, train, ConvUnit(80, name="Conv2d_3b_1x1"),
              ConvUnit(192, 3, padding="VALID", name="Conv2d_4a_3x3"))
    x = record(self, "stage2", x)
    x = jnn.max_pool(x, 3, 2, "VALID")
    x = chain(x, train, InceptionA(32, pad, name="Mixed_5b"),
              InceptionA(64, pad, name="Mixed_5c"), InceptionA(64, pad, name="Mixed_5d"))
    x = record(self, "stage3", x)
    x = chain(x, train, InceptionB(name="Mixed_6a"), InceptionC(128, pad, name="Mixed_6b"),
              InceptionC(160, pad, name="Mixed_6c"), InceptionC(160, pad, name="Mixed_6d"),
              InceptionC(192, pad, name="Mixed_6e"))
    x = record(self, "stage4", x)
    aux = InceptionAux(self.num_classes, name="AuxLogits")(x, train) if run_aux else None
    x = chain(x, train, InceptionD(name="Mixed_7a"), InceptionE(pad, name="Mixed_7b"),
              InceptionE(pad, name="Mixed_7c"))
    x = record(self, "stage5", x)
    logits = classifier(self, x, self.num_classes, self.dropout_rate, train)
    if train and self.aux_logits:
      return logits, (aux,)
    return logits


register(
    "inception_v3", input_shape=(299, 299, 3), num_classes=1000,
    paper="Szegedy et al. 2016, Rethinking the Inception Architecture for Computer Vision",
    num_params=27_161_264,
    params_source="torchvision inception_v3 (IMAGENET1K_V1 weights, with the auxiliary "
                  "classifier)",
    top1=0.77294, top1_source="torchvision inception_v3 IMAGENET1K_V1 (acc@1 77.294)",
    macs=5_713_000_000, min_input_size=299, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    aux_loss_weight=0.4,
    notes="Main tower without the auxiliary classifier: 23,834,568 parameters; Keras "
          "InceptionV3's 23,851,784 is that plus the BN moving statistics minus the BN "
          "scales (Keras uses scale=False). aux_loss_weight 0.4 is TF-slim's "
          "train_image_classifier.py. 75 pixels suffice with aux_logits=False or in "
          "evaluation (Keras' minimum, torchvision's min_size); training with the "
          "auxiliary classifier needs 299. The paper: 21.2% top-1 error, single crop "
          "(Table 3). Inputs scaled to [-1, 1] as TF-slim/Keras.",
)(InceptionV3)
