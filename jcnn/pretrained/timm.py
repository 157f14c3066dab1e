"""timm's ImageNet classifiers -> the zoo: Inception-v4, Inception-ResNet-v2 (`MAPS`, by
zoo name), from timm's state dicts (`.pth`, `.bin` or `.safetensors`).

Both are timm's ports of TF-slim's networks and weights: every convolution but the
residual up-projections is timm's ConvNormAct (a bias-free convolution and a batch norm
dividing by sqrt(var + 1e-3), the zoo's ConvUnit), and each zoo model's parameter count
is timm's. TF-slim builds Inception-v4's last factorised branches of Inception-B and -C
transposed from the paper's figures: `layout="tf_slim"`. Inputs are RGB in [-1, 1]
(mean and std 0.5), as timm's configs for these weights say.
"""
from jcnn import models
from jcnn.data.stats import INCEPTION_MEAN, INCEPTION_STD
from jcnn.models import inception_resnet
from jcnn.pretrained.convert import Map, Tensors, Variables
from jcnn.pretrained.torchvision import conv, conv_unit, linear

# timm's norm_eps for both networks (TF-slim's batch-norm epsilon).
BN_EPSILON = 1e-3


def _units(t: Tensors, v: Variables, pairs, src: str, dst: str) -> None:
  """ConvNormActs `src`.<s> as the zoo's ConvUnits `dst`/<d>, for each (s, d) of `pairs`."""
  for s, d in pairs:
    conv_unit(t, v, f"{src}.{s}", f"{dst}/{d}", BN_EPSILON)


def _inception_v4(t: Tensors, v: Variables) -> None:
  stem = (("0", "conv1"), ("1", "conv2"), ("2", "conv3"), ("3.conv", "mixed_3a_conv"),
          ("4.branch0.0", "mixed_4a_b0_1x1"), ("4.branch0.1", "mixed_4a_b0_3x3"),
          ("4.branch1.0", "mixed_4a_b1_1x1"), ("4.branch1.1", "mixed_4a_b1_1x7"),
          ("4.branch1.2", "mixed_4a_b1_7x1"), ("4.branch1.3", "mixed_4a_b1_3x3"),
          ("5.conv", "mixed_5a_conv"))
  _units(t, v, stem, "features", "stem")
  block_a = (("branch0", "b0_1x1"), ("branch1.0", "b1_1x1"), ("branch1.1", "b1_3x3"),
             ("branch2.0", "b2_1x1"), ("branch2.1", "b2_3x3a"), ("branch2.2", "b2_3x3b"),
             ("branch3.1", "b3_pool_1x1"))
  reduction_a = (("branch0", "branch_3x3"), ("branch1.0", "branch_double_1x1"),
                 ("branch1.1", "branch_double_3x3a"), ("branch1.2", "branch_double_3x3b"))
  block_b = (("branch0", "b0_1x1"), ("branch1.0", "b1_1x1"), ("branch1.1", "b1_1x7"),
             ("branch1.2", "b1_7x1"), ("branch2.0", "b2_1x1"), ("branch2.1", "b2_1x7a"),
             ("branch2.2", "b2_7x1a"), ("branch2.3", "b2_1x7b"), ("branch2.4", "b2_7x1b"),
             ("branch3.1", "b3_pool_1x1"))
  reduction_b = (("branch0.0", "b0_1x1"), ("branch0.1", "b0_3x3"), ("branch1.0", "b1_1x1"),
                 ("branch1.1", "b1_1x7"), ("branch1.2", "b1_7x1"), ("branch1.3", "b1_3x3"))
  block_c = (("branch0", "b0_1x1"), ("branch1_0", "b1_1x1"), ("branch1_1a", "b1_1x3"),
             ("branch1_1b", "b1_3x1"), ("branch2_0", "b2_1x1"), ("branch2_1", "b2_1x3"),
             ("branch2_2", "b2_3x1"), ("branch2_3a", "b2_3x1_out"),
             ("branch2_3b", "b2_1x3_out"), ("branch3.1", "b3_pool_1x1"))
  # timm's nn.Sequential `features`: the stem's 6 modules, then the blocks in order.
  blocks = ([(block_a, f"inception_a{i}") for i in range(1, 5)]
            + [(reduction_a, "reduction_a")]
            + [(block_b, f"inception_b{i}") for i in range(1, 8)]
            + [(reduction_b, "reduction_b")]
            + [(block_c, f"inception_c{i}") for i in range(1, 4)])
  for index, (pairs, dst) in enumerate(blocks, start=6):
    _units(t, v, pairs, f"features.{index}", dst)
  linear(t, v, "last_linear", "fc")


def _residual_block(t: Tensors, v: Variables, src: str, dst: str,
                    branches: tuple[tuple, ...]) -> None:
  """timm's Block35/17/8 `src` (branch<i> one ConvNormAct or a Sequential of them,
  `conv2d` the up-projection) as the zoo's InceptionResNetBlock `dst`."""
  for i, branch in enumerate(branches):
    for j in range(len(branch)):
      at = f"branch{i}" if len(branch) == 1 else f"branch{i}.{j}"
      conv_unit(t, v, f"{src}.{at}", f"{dst}/branch{i}_{j}", BN_EPSILON)
  conv(t, v, f"{src}.conv2d", f"{dst}/up")


def _inception_resnet_v2(t: Tensors, v: Variables) -> None:
  cfg = inception_resnet.V2
  stem = (("conv2d_1a", "stem_conv1"), ("conv2d_2a", "stem_conv2"),
          ("conv2d_2b", "stem_conv3"), ("conv2d_3b", "stem_conv4"),
          ("conv2d_4a", "stem_conv5"))
  for src, dst in stem:
    conv_unit(t, v, src, dst, BN_EPSILON)
  _units(t, v, (("branch0", "b0_1x1"), ("branch1.0", "b1_1x1"), ("branch1.1", "b1_5x5"),
                ("branch2.0", "b2_1x1"), ("branch2.1", "b2_3x3a"), ("branch2.2", "b2_3x3b"),
                ("branch3.1", "b3_pool_1x1")), "mixed_5b", "mixed_5b")
  n_a, n_b, n_c = cfg.num_blocks
  for i in range(n_a):
    _residual_block(t, v, f"repeat.{i}", f"block35_{i + 1}", cfg.block_a)
  _units(t, v, (("branch0", "branch_3x3"), ("branch1.0", "branch_double_1x1"),
                ("branch1.1", "branch_double_3x3a"), ("branch1.2", "branch_double_3x3b")),
         "mixed_6a", "reduction_a")
  for i in range(n_b):
    _residual_block(t, v, f"repeat_1.{i}", f"block17_{i + 1}", cfg.block_b)
  _units(t, v, (("branch0.0", "b0_1x1"), ("branch0.1", "b0_3x3"), ("branch1.0", "b1_1x1"),
                ("branch1.1", "b1_3x3"), ("branch2.0", "b2_1x1"), ("branch2.1", "b2_3x3a"),
                ("branch2.2", "b2_3x3b")), "mixed_7a", "reduction_b")
  for i in range(n_c - 1):  # timm's last 8×8 block, unscaled and linear, stands apart
    _residual_block(t, v, f"repeat_2.{i}", f"block8_{i + 1}", cfg.block_c)
  _residual_block(t, v, "block8", f"block8_{n_c}", cfg.block_c)
  conv_unit(t, v, "conv2d_7b", "conv_7b", BN_EPSILON)
  linear(t, v, "classif", "fc")


def _map(model: str, build, **kwargs) -> Map:
  return Map(f"timm {model}", model, build, INCEPTION_MEAN, INCEPTION_STD,
             kwargs=tuple(kwargs.items()))


MAPS: dict[str, Map] = {
    "inception_v4": _map("inception_v4", _inception_v4, layout="tf_slim"),
    "inception_resnet_v2": _map("inception_resnet_v2", _inception_resnet_v2),
}
