"""GoogLeNet (Inception v1): Szegedy et al. 2014, "Going Deeper with Convolutions"."""
import functools

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.alexnet import adaptive_avg_pool
from jcnn.models.features import record
from jcnn.models.inception_blocks import ConvUnit, chain, check_min_size, classifier, concat
from jcnn.models.registry import register
from jcnn.padding import ceil_mode_padding

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

LAYOUTS = ("caffe", "torchvision")
# The paper does not give the LRN constants; Caffe's bvlc_googlenet uses local_size 5,
# alpha 1e-4, beta 0.75, and Caffe divides alpha by local_size (see local_response_norm).
_lrn = functools.partial(jnn.local_response_norm, depth_radius=2, bias=1.0, alpha=1e-4 / 5,
                         beta=0.75)


def _unit(layout: str):
  """The conv unit of `layout`: Caffe's conv (with bias) and ReLU, or torchvision's
  bias-free conv, batch norm (epsilon 1e-3) and ReLU."""
  return functools.partial(ConvUnit, batch_norm=layout == "torchvision")


class InceptionModule(nn.Module):
  """Figure 2(b): 1×1 | 1×1 -> 3×3 | 1×1 -> 5×5 | 3×3/1 max pool -> 1×1, concatenated.

  Attributes:
    widths: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj), a row of Table 1.
    layout: "caffe" or "torchvision" (see GoogLeNet).
  """
  widths: tuple[int, int, int, int, int, int]
  layout: str = "caffe"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, h, w, c] -> [batch, h, w, #1×1 + #3×3 + #5×5 + pool proj]."""
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = self.widths
    conv = _unit(self.layout)
    # torchvision's "5×5" branch is a 3×3, as in TF-slim's inception_v1, whose weights
    # it ports; the name stays, so both layouts have the same variable tree.
    k5x5 = 3 if self.layout == "torchvision" else 5
    return concat([
        conv(n1x1, name="1x1")(x, train),
        chain(x, train, conv(n3x3_reduce, name="3x3_reduce"), conv(n3x3, 3, name="3x3")),
        chain(x, train, conv(n5x5_reduce, name="5x5_reduce"), conv(n5x5, k5x5, name="5x5")),
        conv(pool_proj, name="pool_proj")(jnn.max_pool(x, 3, 1, "SAME"), train),
    ])


class AuxClassifier(nn.Module):
  """The auxiliary classifier on 4a and 4d (Section 5).

  5×5/3 average pool (14×14 -> 4×4), 1×1 conv 128 + ReLU, FC 1024 + ReLU, dropout
  70%, linear. The FC sees the 4×4×128 map, so the grid at 4a must be 14 to 16 cells
  (torchvision's layout pools any grid to 4×4 adaptively).
  """
  num_classes: int
  layout: str = "caffe"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    """x: [batch, 14, 14, c] -> logits [batch, num_classes]."""
    if self.layout == "torchvision":
      pooled = adaptive_avg_pool(x, 4)
    else:
      pooled = jnn.avg_pool(x, 5, 3, "VALID")
    if pooled.shape[1:3] != (4, 4):
      raise ValueError(f"googlenet's auxiliary classifiers need a 14-16 cell grid at 4a "
                       f"and 4d (inputs of 209-256 pixels; Table 1 uses 224), got a "
                       f"{x.shape[1]}×{x.shape[2]} grid")
    x = _unit(self.layout)(128, name="conv")(pooled, train)
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

  `layout="torchvision"` is torchvision's GoogLeNet (a port of TF-slim's inception_v1),
  with its parameters one to one: batch norm (epsilon 1e-3) after every convolution,
  which has no bias, and no LRN; a 3×3 where the paper has the 5×5; max pools in
  PyTorch's ceil mode, the last one 2×2/2; auxiliary classifiers that pool any grid to
  4×4 adaptively.

  Attributes:
    num_classes: output classes.
    aux_logits: build the auxiliary classifiers.
    dropout_rate: dropout before the last linear layer (the paper's 40%).
    layout: "caffe" (the paper as Caffe's bvlc_googlenet builds it) or "torchvision".
  """
  num_classes: int = 1000
  aux_logits: bool = True
  dropout_rate: float = 0.4
  layout: str = "caffe"

  def _max_pool(self, x: jax.Array, window: int = 3) -> jax.Array:
    """3×3/2 SAME (Caffe's ceil mode on even grids), or torchvision's window/2 in
    ceil mode."""
    if self.layout == "caffe":
      return jnn.max_pool(x, 3, 2, "SAME")
    return jnn.max_pool(x, window, 2, ceil_mode_padding(x.shape[1:3], window, 2))

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    """x: [batch, 224, 224, 3] -> logits, or (logits, (aux_4a, aux_4d)) in training."""
    if self.layout not in LAYOUTS:
      raise ValueError(f"unknown googlenet layout {self.layout!r}; choose from {LAYOUTS}")
    run_aux = self.aux_logits and (train or self.is_initializing())
    if run_aux and self.layout == "caffe":
      check_min_size("googlenet", x, 209, "the auxiliary classifiers need a 14-16 cell "
                     "grid at 4a; evaluation has no limit")
    else:
      check_min_size("googlenet", x, 1)
    conv = _unit(self.layout)
    lrn = _lrn if self.layout == "caffe" else lambda x: x
    x = record(self, "stage1", conv(64, 7, 2, padding=3, name="conv1")(x, train))
    x = lrn(self._max_pool(x))
    x = conv(64, name="conv2_reduce")(x, train)
    x = record(self, "stage2", lrn(conv(192, 3, name="conv2")(x, train)))
    x = self._max_pool(x)
    aux = []
    for name, widths in TABLE_1.items():
      if name == "4a":
        x = self._max_pool(x)
      if name == "5a":
        x = self._max_pool(x, 2)
      x = InceptionModule(widths, self.layout, name=f"inception_{name}")(x, train)
      if name in ("4a", "4d") and run_aux:
        aux.append(AuxClassifier(self.num_classes, self.layout, name=f"aux_{name}")(x, train))
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
          "average pooling stands for the 7×7 pool (the same at 224). layout='torchvision' "
          "(torchvision's GoogLeNet, batch-normalised): 13,004,888 parameters, 6,624,904 "
          "without the auxiliary classifiers (torchvision's count).",
)(GoogLeNet)
