"""GoogLeNet (Inception v1): Szegedy et al. 2014, "Going Deeper with Convolutions"."""
import functools

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.features import record
from jcnn.models.inception_blocks import ConvUnit, check_min_size, classifier, concat
from jcnn.models.registry import register

# Table 1: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj of each module.
TABLE_1 = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

_conv = functools.partial(ConvUnit, batch_norm=False)
# The paper does not give the LRN constants; Caffe's bvlc_googlenet uses local_size 5,
# alpha 1e-4, beta 0.75, and Caffe divides alpha by local_size (see local_response_norm).
_lrn = functools.partial(jnn.local_response_norm, depth_radius=2, bias=1.0, alpha=1e-4 / 5,
                         beta=0.75)


class InceptionModule(nn.Module):
  """Figure 2(b): 1×1 | 1×1 -> 3×3 | 1×1 -> 5×5 | 3×3/1 max pool -> 1×1, concatenated.

  Attributes:
    widths: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj), a row of Table 1.
  """
  widths: tuple[int, int, int, int, int, int]

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [batch, h, w, c] -> [batch, h, w, #1×1 + #3×3 + #5×5 + pool proj]."""
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = self.widths
    b1 = _conv(n1x1, name="1x1")(x)
    b2 = _conv(n3x3, 3, name="3x3")(_conv(n3x3_reduce, name="3x3_reduce")(x))
    b3 = _conv(n5x5, 5, name="5x5")(_conv(n5x5_reduce, name="5x5_reduce")(x))
    b4 = _conv(pool_proj, name="pool_proj")(jnn.max_pool(x, 3, 1, "SAME"))
    return concat([b1, b2, b3, b4])


class AuxClassifier(nn.Module):
  """The auxiliary classifier on 4a and 4d (Section 5).

  5×5/3 average pool (14×14 -> 4×4), 1×1 conv 128 + ReLU, FC 1024 + ReLU, dropout
  70%, linear. The FC sees the 4×4×128 map, so the grid at 4a must be 14 to 16 cells.
  """
  num_classes: int

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    """x: [batch, 14, 14, c] -> logits [batch, num_classes]."""
    pooled = jnn.avg_pool(x, 5, 3, "VALID")
    if pooled.shape[1:3] != (4, 4):
      raise ValueError(f"googlenet's auxiliary classifiers need a 14-16 cell grid at 4a "
                       f"and 4d (inputs of 209-256 pixels; Table 1 uses 224), got a "
                       f"{x.shape[1]}×{x.shape[2]} grid")
    x = _conv(128, name="conv")(pooled)
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(nn.Dense(1024, name="fc")(x))
    key = self.make_rng("dropout") if train else None
    x = jnn.dropout(x, 0.7, key, deterministic=not train)
    return nn.Dense(self.num_classes, name="classifier")(x)


class GoogLeNet(nn.Module):
  """GoogLeNet, Table 1 of the paper: ReLU everywhere, no batch norm.

  conv 7×7/2 64 - max pool 3×3/2 - LRN - conv 1×1 64 - conv 3×3 192 - LRN - max pool -
  inception 3a, 3b - max pool - 4a…4e - max pool - 5a, 5b - average pool - dropout 40% -
  linear. Pools use SAME padding, which equals Caffe's ceil-mode pooling on Table 1's
  even sizes. The 7×7/1 average pool over the 7×7 map of a 224×224 input is global
  average pooling, which is what runs here.

  With `aux_logits`, the two auxiliary classifiers on 4a and 4d are built (their
  parameters always exist) and, in training, the model returns
  `(logits, (aux_4a, aux_4d))`; their losses are weighted 0.3. Evaluation returns logits.

  Attributes:
    num_classes: output classes.
    aux_logits: build the auxiliary classifiers.
    dropout_rate: dropout before the last linear layer (the paper's 40%).
  """
  num_classes: int = 1000
  aux_logits: bool = True
  dropout_rate: float = 0.4

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    """x: [batch, 224, 224, 3] -> logits, or (logits, (aux_4a, aux_4d)) in training."""
    run_aux = self.aux_logits and (train or self.is_initializing())
    if run_aux:
      check_min_size("googlenet", x, 209, "the auxiliary classifiers need a 14-16 cell "
                     "grid at 4a; evaluation has no limit")
    else:
      check_min_size("googlenet", x, 1)
    x = record(self, "stage1", _conv(64, 7, 2, padding=3, name="conv1")(x))
    x = _lrn(jnn.max_pool(x, 3, 2, "SAME"))
    x = _conv(64, name="conv2_reduce")(x)
    x = record(self, "stage2", _lrn(_conv(192, 3, name="conv2")(x)))
    x = jnn.max_pool(x, 3, 2, "SAME")
    aux = []
    for name, widths in TABLE_1.items():
      if name in ("4a", "5a"):
        x = jnn.max_pool(x, 3, 2, "SAME")
      x = InceptionModule(widths, name=f"inception_{name}")(x)
      if name in ("4a", "4d") and run_aux:
        aux.append(AuxClassifier(self.num_classes, name=f"aux_{name}")(x, train))
      if name in ("3b", "4e", "5b"):
        x = record(self, {"3b": "stage3", "4e": "stage4", "5b": "stage5"}[name], x)
    logits = classifier(self, x, self.num_classes, self.dropout_rate, train)
    if train and self.aux_logits:
      return logits, tuple(aux)
    return logits


register(
    "googlenet", input_shape=(224, 224, 3), num_classes=1000,
    paper="Szegedy et al. 2014, Going Deeper with Convolutions",
    num_params=13_378_280,
    params_source="Caffe bvlc_googlenet (the reference replication, convolutions with "
                  "biases), counted with its two auxiliary classifiers",
    top1=0.687,
    top1_source="BVLC Caffe model zoo, bvlc_googlenet readme: 68.7% top-1, center crop "
                "(the paper reports top-5 only: 10.07% for one model, one crop, Table 3)",
    min_input_size=209, mean=IMAGENET_MEAN, std=IMAGENET_STD,
    aux_loss_weight=0.3,
    notes="num_params counts the auxiliary classifiers (built at default settings); "
          "without them (aux_logits=False) 6,998,552, Caffe's deploy model. Table 1's own "
          "params column sums to about 6.8M (weights only, rounded); its conv1 entry, "
          "2.7K, is what a separable 7×7 with depth multiplier 8 has, where Caffe has a "
          "full 7×7 (9,472). The auxiliary FC layers need 209-256 pixel inputs in "
          "training; evaluation runs at any size. LRN constants from Caffe; global "
          "average pooling stands for the 7×7 pool (the same at 224).",
)(GoogLeNet)
