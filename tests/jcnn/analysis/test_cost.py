"""Parameters, MACs and FLOPs from the jaxpr, against published counts and XLA."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest
from jax import lax

from jcnn import analysis, models
from jcnn.analysis.cost import node_cost
from jcnn.analysis import jaxpr_walk


@functools.lru_cache(maxsize=None)
def _zoo_cost(name, size=None, batch_size=1, **kwargs):
  info = models.info(name)
  model = models.create(name)
  shape = info.input_shape if size is None else (size, size, info.input_shape[2])
  x = jax.ShapeDtypeStruct((batch_size, *shape), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
  return analysis.cost(lambda v, x: model.apply(v, x), x, variables=variables, **kwargs)


def test_lenet5_every_layer():
  report = _zoo_cost("lenet5", compare_xla=False)
  got = {r.name: (r.params, r.macs) for r in report.layers if r.macs}
  # MACs = output elements × kernel taps × input channels (C3 fully connected to S2).
  assert got == {
      "LeNet5/c1": (156, 28 * 28 * 6 * 25),        # 117,600
      "LeNet5/c3": (2_416, 10 * 10 * 16 * 150),    # 240,000
      "LeNet5/c5": (48_120, 120 * 400),            # 48,000
      "LeNet5/f6": (10_164, 84 * 120),             # 10,080
      "LeNet5/output": (850, 10 * 84),             # 840
  }
  # LeCun et al. 1998, Sec. II-B counts "connections" = MACs + one bias add per output:
  # C1 122,304; C5 48,120; F6 10,164.
  layer = report.layer
  assert layer("LeNet5/c1").macs + 28 * 28 * 6 == 122_304
  assert layer("LeNet5/c5").macs + 120 == 48_120
  assert layer("LeNet5/f6").macs + 84 == 10_164
  assert report.params == 61_706 and report.macs == 416_520
  # FLOPs: 2 per MAC, 1 per bias add and ReLU output, window size per pooled output.
  assert layer("LeNet5/c1").flops == 2 * 117_600 + 28 * 28 * 6
  assert layer("LeNet5/max_pool_0").flops == 28 * 28 * 6 + 14 * 14 * 6 * 4  # ReLU, then pool
  assert layer("LeNet5/c1").activation_bytes == 28 * 28 * 6 * 4
  assert [r.name for r in report.layers] == [
      "LeNet5/c1", "LeNet5/max_pool_0", "LeNet5/c3", "LeNet5/max_pool_1", "LeNet5/c5",
      "LeNet5/relu_0", "LeNet5/f6", "LeNet5/relu_1", "LeNet5/output"]


# torchvision's documented "GFLOPS" of the IMAGENET1K_V1 weights (which are
# multiply-accumulates, counted as fvcore does), and MobileNet's paper.
PUBLISHED_MACS = [
    ("resnet18", 1.81e9, "torchvision ResNet18_Weights GFLOPS 1.81"),
    ("resnet34", 3.66e9, "torchvision ResNet34_Weights GFLOPS 3.66"),
    ("resnet50", 4.09e9, "torchvision ResNet50_Weights GFLOPS 4.09"),
    ("vgg16", 15.47e9, "torchvision VGG16_Weights GFLOPS 15.47"),
    ("alexnet_1tower", 0.71e9, "torchvision AlexNet_Weights GFLOPS 0.71"),
    ("inception_v3", 5.71e9, "torchvision Inception_V3_Weights GFLOPS 5.71"),
    ("mobilenet_v1", 569e6, "Howard et al. 2017, Table 1: 569 million mult-adds"),
]


@pytest.mark.parametrize("name,macs,source", PUBLISHED_MACS)
def test_macs_match_published_counts(name, macs, source):
  report = _zoo_cost(name, compare_xla=False, backprop=False)
  assert report.macs == pytest.approx(macs, rel=0.01), source
  assert report.params == models.info(name).num_params


def test_inception_1x1_reduction_saves_multiplications():
  # Szegedy et al. 2015's argument for 1×1 reductions, on a 32×32×192 map to 256
  # channels with a 3×3 convolution: 32·32·256·3·3·192 multiplications directly, or
  # 32·32·96·192 + 32·32·256·3·3·96 through a 96-channel 1×1 reduction.
  x = jax.ShapeDtypeStruct((1, 32, 32, 192), jnp.float32)
  conv = lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                               dimension_numbers=("NHWC", "HWIO", "NHWC"))
  direct = analysis.cost(lambda x: conv(x, jnp.zeros((3, 3, 192, 256))), x, compare_xla=False)
  reduced = analysis.cost(
      lambda x: conv(conv(x, jnp.zeros((1, 1, 192, 96))), jnp.zeros((3, 3, 96, 256))), x,
      compare_xla=False)
  assert direct.macs == 452_984_832
  assert [r.macs for r in reduced.layers] == [18_874_368, 226_492_416]
  assert reduced.macs == 245_366_784


class _Net(nn.Module):
  """A model written here: padded convs, BatchNorm, pooling, a dense head."""

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(16, (3, 3), padding="SAME", name="conv1")(x)
    x = nn.relu(nn.BatchNorm(use_running_average=True, name="bn1")(x))
    x = nn.max_pool(x, (2, 2), (2, 2))
    x = nn.Conv(32, (3, 3), strides=2, padding=((1, 1), (1, 1)), feature_group_count=4,
                name="grouped")(x)
    return nn.Dense(10, name="head")(jnp.mean(nn.relu(x), axis=(1, 2)))


def test_a_model_defined_here_and_xla_agree():
  x = jax.ShapeDtypeStruct((2, 16, 16, 3), jnp.float32)
  variables = jax.eval_shape(_Net().init, jax.random.PRNGKey(0), x)
  report = analysis.cost(_Net().apply, x, variables=variables)
  layer = report.layer
  assert layer("_Net/conv1").macs == 2 * 16 * 16 * 16 * 9 * 3
  assert layer("_Net/grouped").macs == 2 * 4 * 4 * 32 * 9 * (16 // 4)
  assert layer("_Net/grouped").params == 9 * 4 * 32 + 32
  assert layer("_Net/head").macs == 2 * 32 * 10
  assert layer("_Net/bn1").params == 32 and layer("_Net/bn1").macs == 0
  assert report.params == 448 + 32 + 1_184 + 330
  assert report.state_bytes == 2 * 16 * 4  # BatchNorm mean and variance: not parameters
  # XLA skips the taps that land on padding; so does our unpadded count.
  assert report.unpadded_macs < report.macs
  assert report.xla_flops == pytest.approx(report.unpadded_flops, rel=0.01)
  assert report.xla_memory["argument_bytes"] == report.param_bytes + report.state_bytes + \
      report.input_bytes


def test_lenet5_flops_agree_with_xla():
  report = _zoo_cost("lenet5", batch_size=8)
  assert report.unpadded_flops == report.flops  # no padding in LeNet-5
  assert report.xla_flops == pytest.approx(report.flops, rel=0.01)


def test_plain_lax_function_with_closed_over_weights():
  w1, w2 = jnp.ones((5, 5, 1, 4)), jnp.ones((4 * 12 * 12, 3))

  def fn(x):
    y = lax.conv_general_dilated(x, w1, (1, 1), "VALID",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = lax.reduce_window(jnp.tanh(y), 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return y.reshape(x.shape[0], -1) @ w2

  report = analysis.cost(fn, jnp.zeros((3, 28, 28, 1)), compare_xla=False)
  assert report.params == w1.size + w2.size  # closed-over arrays are the parameters
  assert report.macs == 3 * (24 * 24 * 4 * 25 + 3 * 576)
  assert report.batch_size == 3
  assert analysis.cost(fn, jnp.zeros((3, 28, 28, 1)), batch_size=6,
                       compare_xla=False).macs == 2 * report.macs


def test_control_flow_costs():
  w = jnp.ones((8, 8))

  def fn(x):
    y, _ = lax.scan(lambda c, _: (jnp.tanh(c @ w), None), x, None, length=5)
    return lax.cond(y.sum() > 0, lambda y: y @ w, lambda y: y * 2, y)

  graph = jaxpr_walk.trace(fn, jnp.zeros((1, 8)))
  scan, cond = [n for n in graph.nodes if n.name in ("scan", "cond")]
  assert node_cost(scan) == (5 * 64, 5 * (2 * 64 + 8))  # body × length
  assert node_cost(cond) == (64, 128)  # the dearer branch


def test_backprop_residuals_scale_with_the_batch():
  one = _zoo_cost("lenet5", batch_size=1, compare_xla=False)
  four = _zoo_cost("lenet5", batch_size=4, compare_xla=False)
  assert four.residual_bytes == 4 * one.residual_bytes
  # At least the ReLU/pool activations every layer's backward pass reads.
  assert one.residual_bytes >= one.activation_bytes
  text = str(one)
  assert "LeNet5/c1" in text and "416.52 KMACs" in text
  assert set(one.as_dict()) == {"layers", "total"}
