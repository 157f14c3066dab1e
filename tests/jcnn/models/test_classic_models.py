"""The classic families against their papers: LeNet-5 (1998), AlexNet, ZFNet, VGG, NIN,
MobileNet v1. Layer sizes, kernel shapes, connection tables and options.

Published parameter counts are asserted for every registered model by test_zoo; the
counts here are per layer, per option, or BatchNorm statistics test_zoo does not see.
Big models are checked through `jax.eval_shape` (nothing allocated, nothing run).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import models
from jcnn import nn as jnn
from jcnn.models import alexnet as alexnet_lib
from jcnn.models import lenet1998, nin as nin_lib, vgg as vgg_lib


def _layer_outputs(model, input_shape) -> dict[str, tuple[int, ...]]:
  """Output shape (without batch) of each top-level sub-module, by eval_shape."""
  def run(x):
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    _, state = model.apply(variables, x, train=False, capture_intermediates=True,
                           mutable=["intermediates"])
    return state["intermediates"]

  outputs = jax.eval_shape(run, jax.ShapeDtypeStruct((1, *input_shape), jnp.float32))
  return {name: value["__call__"][0].shape[1:] for name, value in outputs.items()
          if name != "__call__"}


def _features(model, input_shape) -> dict[str, tuple[int, ...]]:
  return {f["name"]: f["shape"] for f in models.feature_info(model, input_shape)}


# ----------------------------------------------------------------------- LeNet-5, 1998

# Table I of LeCun et al. 1998, transcribed: row i = S2 map i, column j = C3 map j,
# "X" where C3 map j reads S2 map i.
TABLE_I = (
    "X   XXX  XXXX XX",
    "XX   XXX  XXXX X",
    "XXX   XXX  X XXX",
    " XXX  XXXX  X XX",
    "  XXX  XXXX XX X",
    "   XXX  XXXX XXX",
)


def test_lenet1998_c3_connections_are_table_i():
  table = [[row[j] == "X" for row in TABLE_I] for j in range(16)]
  assert [tuple(i for i, on in enumerate(col) if on) for col in table] == list(
      lenet1998.C3_TABLE)
  assert sum(len(inputs) for inputs in lenet1998.C3_TABLE) == 60  # "60 connections"


def test_lenet1998_unconnected_maps_do_not_interact():
  c3 = lenet1998.PartialConv(lenet1998.C3_TABLE)
  s2 = jax.random.normal(jax.random.PRNGKey(0), (1, 14, 14, 6))
  variables = c3.init(jax.random.PRNGKey(1), s2)
  assert variables["params"]["kernel"].shape == (5, 5, 60)  # only the 60 connections

  # d(sum of C3 map j) / d(S2 map i) is non-zero exactly where Table I has an X.
  jacobian = jax.jacrev(lambda x: c3.apply(variables, x).sum(axis=(0, 1, 2)))(s2)
  reads = np.abs(np.asarray(jacobian)).sum(axis=(1, 2, 3)) > 0  # [16 C3 maps, 6 S2 maps]
  expected = np.array([[row[j] == "X" for row in TABLE_I] for j in range(16)])
  np.testing.assert_array_equal(reads, expected)

  dense = np.asarray(c3.dense_kernel(variables["params"]["kernel"], 6))
  assert dense.shape == (5, 5, 6, 16)
  assert np.all(dense[:, :, ~expected.T] == 0)
  assert np.all(dense[:, :, expected.T] != 0)


def test_lenet1998_layer_parameters_match_section_ii_b():
  params = models.abstract_variables(models.create("lenet5_1998"), (32, 32, 1))["params"]
  counts = {name: models.num_params(layer) for name, layer in params.items()}
  # Sec. II-B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164; dense output 850.
  assert counts == {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120,
                    "f6": 10_164, "output": 850}


def test_lenet1998_maps_and_squashing():
  assert _features(models.create("lenet5_1998"), (32, 32, 1)) == {
      "s2_out": (14, 14, 6), "s4_out": (5, 5, 16), "c5_out": (1, 1, 120)}
  # Appendix A: A = 1.7159 and S = 2/3 make f(1) = 1 and f(-1) = -1.
  np.testing.assert_allclose(lenet1998.squash(jnp.array([1.0, -1.0, 100.0])),
                             [1.0, -1.0, 1.7159], atol=1e-4)


def test_lenet1998_subsampling_is_a_trainable_window_sum():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  params = {"params": {"coefficient": jnp.array([0.5]), "bias": jnp.array([-1.0])}}
  out = lenet1998.Subsampling().apply(params, x)
  window_sums = np.array([[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])
  np.testing.assert_allclose(out[0, :, :, 0], 0.5 * window_sums - 1.0)


def test_lenet1998_rejects_other_inputs():
  model = models.create("lenet5_1998")
  with pytest.raises(ValueError, match=r"\[batch, 32, 32, 1\], got \(1, 28, 28, 1\)"):
    model.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))


# ------------------------------------------------------------------- AlexNet and ZFNet

def test_alexnet_map_sizes_follow_the_paper():
  model = models.create("alexnet")
  layers = _layer_outputs(model, (227, 227, 3))
  # Krizhevsky et al. Fig. 2 (both towers together): 55-27-13-13-13, pooled to 6.
  assert {k: v for k, v in layers.items() if k.startswith("conv")} == {
      "conv1": (55, 55, 96), "conv2": (27, 27, 256), "conv3": (13, 13, 384),
      "conv4": (13, 13, 384), "conv5": (13, 13, 256)}
  assert _features(model, (227, 227, 3)) == {
      "pool1": (27, 27, 96), "pool2": (13, 13, 256), "relu3": (13, 13, 384),
      "relu4": (13, 13, 384), "pool5": (6, 6, 256),
      # fc6 and fc7 after their ReLU, as 1×1 maps (R-CNN's SVMs read relu7).
      "classifier/relu6": (1, 1, 4096), "classifier/relu7": (1, 1, 4096)}


def test_alexnet_towers_are_convolution_groups():
  params = models.abstract_variables(models.create("alexnet"), (227, 227, 3))["params"]
  kernels = {name: params[name]["kernel"].shape for name in
             ("conv1", "conv2", "conv3", "conv4", "conv5")}
  # conv2, conv4, conv5 read only their own tower's 48 / 192 / 192 maps; conv3 reads both.
  assert kernels == {"conv1": (11, 11, 3, 96), "conv2": (5, 5, 48, 256),
                     "conv3": (3, 3, 256, 384), "conv4": (3, 3, 192, 384),
                     "conv5": (3, 3, 192, 256)}
  assert params["classifier"]["fc6"]["kernel"].shape == (6 * 6 * 256, 4096)


@pytest.mark.parametrize("name, size, first_stage", [
    # AlexNet Sec. 3.3-3.4: ReLU, response normalisation, then overlapping pooling.
    ("alexnet", 227, lambda y: jnn.max_pool(alexnet_lib.lrn(jax.nn.relu(y)), 3, 2)),
    # ZFNet Fig. 3: ReLU, 3×3/2 pooling (55×55), then contrast normalisation.
    ("zfnet", 224, lambda y: alexnet_lib.lrn(
        jnn.max_pool(jax.nn.relu(y), 3, 2, padding=((0, 1), (0, 1))))),
])
def test_response_normalisation_in_the_first_stage(name, size, first_stage):
  model = models.create(name)
  x = jax.random.normal(jax.random.PRNGKey(0), (1, size, size, 3))
  # Only conv1 matters here: the other 60M parameters stay zero (cheap to make).
  variables = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype),
                           models.abstract_variables(model, (size, size, 3)))
  shape = variables["params"]["conv1"]["kernel"].shape
  conv1 = {"kernel": 0.01 * jax.random.normal(jax.random.PRNGKey(1), shape),
           "bias": 0.1 * jnp.ones(shape[-1])}
  variables["params"]["conv1"] = conv1
  stride, padding = (4, "VALID") if name == "alexnet" else (2, 1)
  y = jnn.conv2d(x, conv1["kernel"], conv1["bias"], stride=stride, padding=padding)
  feature = models.extract_features(model, variables, x)["pool1" if name == "alexnet"
                                                         else "norm1"]
  np.testing.assert_allclose(feature, first_stage(y), rtol=1e-5, atol=1e-6)
  # The paper's constants matter at this scale: without LRN the maps would differ.
  assert not np.allclose(feature, jnn.max_pool(jax.nn.relu(y), 3, 2,
                                                padding=((0, 1), (0, 1)) if name == "zfnet"
                                                else "VALID"), rtol=1e-3)


def test_lrn_uses_the_papers_constants():
  # b = a / (k + alpha * sum over n=5 channels of a^2) ** beta, k=2, alpha=1e-4, beta=0.75.
  a = jnp.arange(1.0, 8.0).reshape(1, 1, 1, 7) * 10
  b = alexnet_lib.lrn(a)[0, 0, 0]
  squares = np.asarray(a[0, 0, 0]) ** 2
  expected = [a[0, 0, 0, c] / (2 + 1e-4 * squares[max(0, c - 2):c + 3].sum()) ** 0.75
              for c in range(7)]
  np.testing.assert_allclose(b, expected, rtol=1e-6)


def test_zfnet_map_sizes_follow_figure_3():
  model = models.create("zfnet")
  layers = _layer_outputs(model, (224, 224, 3))
  # Fig. 3: 110 (conv1), 55 (pool), 26 (conv2), 13 (pool), 13, 13, 13, 6.
  assert {k: v for k, v in layers.items() if k.startswith("conv")} == {
      "conv1": (110, 110, 96), "conv2": (26, 26, 256), "conv3": (13, 13, 384),
      "conv4": (13, 13, 384), "conv5": (13, 13, 256)}
  assert _features(model, (224, 224, 3)) == {
      "norm1": (55, 55, 96), "norm2": (13, 13, 256), "relu3": (13, 13, 384),
      "relu4": (13, 13, 384), "relu5": (13, 13, 256), "pool5": (6, 6, 256),
      "classifier/relu6": (1, 1, 4096), "classifier/relu7": (1, 1, 4096)}
  params = models.abstract_variables(model, (224, 224, 3))["params"]
  # One tower: layers 3-5 densely connected (Sec. 3), unlike AlexNet's groups.
  assert [params[f"conv{i}"]["kernel"].shape for i in range(1, 6)] == [
      (7, 7, 3, 96), (5, 5, 96, 256), (3, 3, 256, 384), (3, 3, 384, 384), (3, 3, 384, 256)]


def test_alexnet_1tower_matches_torchvision_shapes():
  model = models.create("alexnet_1tower")
  layers = _layer_outputs(model, (224, 224, 3))
  # torchvision.models.alexnet: 64-192-384-256-256 channels, 55-27-13-13-13, pooled to 6.
  assert {k: v for k, v in layers.items() if k.startswith("conv")} == {
      "conv1": (55, 55, 64), "conv2": (27, 27, 192), "conv3": (13, 13, 384),
      "conv4": (13, 13, 256), "conv5": (13, 13, 256)}
  assert _features(model, (224, 224, 3))["pool5"] == (6, 6, 256)
  # torchvision's min_size 63: pool5 is 1×1 and the adaptive pool repeats it.
  assert _features(model, (63, 63, 3))["pool5"] == (1, 1, 256)
  assert _layer_outputs(model, (63, 63, 3))["classifier"] == (1000,)
  with pytest.raises(ValueError, match=r"at least 63"):
    model.init(jax.random.PRNGKey(0), jnp.zeros((1, 62, 62, 3)))


def test_adaptive_avg_pool_has_torchvision_bins():
  x = jnp.arange(5.0).reshape(1, 5, 1, 1) * jnp.ones((1, 1, 5, 1))
  out = alexnet_lib.adaptive_avg_pool(x, 3)
  # AdaptiveAvgPool2d(3) on 5 rows: bins [0, 2), [1, 4), [3, 5).
  np.testing.assert_allclose(out[0, :, 0, 0], [0.5, 2.0, 3.5])
  y = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 4))
  np.testing.assert_allclose(alexnet_lib.adaptive_avg_pool(y, 6), y, rtol=1e-6)
  np.testing.assert_allclose(alexnet_lib.adaptive_avg_pool(y[:, :1, :1], 6),
                             jnp.broadcast_to(y[:, :1, :1], (2, 6, 6, 4)), rtol=1e-6)


@pytest.mark.parametrize("name, good", [("alexnet", 227), ("zfnet", 224)])
def test_dense_heads_reject_other_sizes(name, good):
  with pytest.raises(ValueError, match=rf"\[batch, {good}, {good}, 3\], got \(1, 256, 256, 3\)"):
    models.create(name).init(jax.random.PRNGKey(0), jnp.zeros((1, 256, 256, 3)))


# ---------------------------------------------------------------------------------- VGG

# Simonyan & Zisserman Table 1: weight layers per configuration, and where C has 1×1.
@pytest.mark.parametrize("name, weight_layers", [
    ("vgg11", 11), ("vgg11_lrn", 11), ("vgg13", 13), ("vgg16_c", 16), ("vgg16", 16),
    ("vgg19", 19), ("vgg16_c_bn", 16)])
def test_vgg_configurations_follow_table_1(name, weight_layers):
  params = models.abstract_variables(models.create(name), (224, 224, 3))["params"]
  convs = {k: v["kernel"].shape for k, v in params.items() if k.startswith("conv")}
  assert len(convs) + 3 == weight_layers
  one_by_one = sorted(k for k, shape in convs.items() if shape[:2] == (1, 1))
  assert one_by_one == (["conv3_3", "conv4_3", "conv5_3"] if "_c" in name else [])
  assert all(shape[:2] in ((3, 3), (1, 1)) for shape in convs.values())


def test_vgg_maps_halve_to_7():
  pools = {k: v for k, v in _features(models.create("vgg16"), (224, 224, 3)).items()
           if k.startswith("pool")}
  assert pools == {
      "pool1": (112, 112, 64), "pool2": (56, 56, 128), "pool3": (28, 28, 256),
      "pool4": (14, 14, 512), "pool5": (7, 7, 512)}


def test_vgg16_records_every_convolution():
  # Faster R-CNN's VGG-16 backbone ends at conv5_3: 14 x 14 x 512 at 224 (stride 16).
  relus = {k: v for k, v in _features(models.create("vgg16"), (224, 224, 3)).items()
           if k.startswith("relu")}
  assert len(relus) == 13 and relus["relu5_3"] == (14, 14, 512)


@pytest.mark.parametrize("name, lrn_inputs", [
    ("vgg11", []),
    # A-LRN: one LRN layer, on the first convolution's 64 maps (Table 1).
    ("vgg11_lrn", [(1, 224, 224, 64)]),
])
def test_vgg_a_lrn_normalises_the_first_layer(monkeypatch, name, lrn_inputs):
  seen = []

  def spy(x):
    seen.append(tuple(x.shape))
    return alexnet_lib.lrn(x)

  monkeypatch.setattr(vgg_lib, "alexnet_lrn", spy)
  models.abstract_variables(models.create(name), (224, 224, 3))
  assert seen == lrn_inputs


def test_vgg_bn_normalises_every_convolution():
  model = models.create("vgg16_bn")
  variables = models.abstract_variables(model, (224, 224, 3))
  convs = [k for k in variables["params"] if k.startswith("conv")]
  assert sorted(variables["batch_stats"]) == sorted(k.replace("conv", "bn") for k in convs)
  assert len(convs) == 13
  # torchvision's vgg16_bn keeps the conv biases: 138,365,992 = vgg16's + 2 × 4,224.
  assert models.num_params(variables["batch_stats"]) == 2 * 4_224


# --------------------------------------------------------------------------- MobileNet

@pytest.mark.parametrize("alpha, trainable, total", [
    # Keras Applications MobileNet(alpha=...).summary(): total = trainable + BN moving
    # means and variances (21,888 and 10,944 non-trainable).
    (1.0, 4_231_976, 4_253_864),
    (0.5, 1_331_592, 1_342_536),
])
def test_mobilenet_width_multiplier_matches_keras(alpha, trainable, total):
  variables = models.abstract_variables(models.create("mobilenet_v1", alpha=alpha), (224, 224, 3))
  assert models.num_params(variables["params"]) == trainable
  assert models.num_params(variables["batch_stats"]) == total - trainable


def test_mobilenet_follows_table_1():
  model = models.create("mobilenet_v1")
  params = models.abstract_variables(model, (224, 224, 3))["params"]
  assert params["conv1"]["kernel"].shape == (3, 3, 3, 32)
  # 13 depthwise separable blocks: 3×3 depthwise [3, 3, 1, C], then 1×1 pointwise.
  assert params["conv_dw_13"]["kernel"].shape == (3, 3, 1, 1024)
  assert params["conv_pw_13"]["kernel"].shape == (1, 1, 1024, 1024)
  assert len([k for k in params if k.startswith("conv_dw_") and not k.endswith("_bn")]) == 13
  assert _features(model, (224, 224, 3)) == {
      "stage1": (112, 112, 64), "stage2": (56, 56, 128), "stage3": (28, 28, 256),
      "stage4": (14, 14, 512), "stage5": (7, 7, 1024)}
  # Width multiplier 0.5: every layer's channels halve.
  half = _features(models.create("mobilenet_v1", alpha=0.5), (224, 224, 3))
  assert half["stage5"] == (7, 7, 512) and half["stage1"] == (112, 112, 32)


def test_mobilenet_keras_padding_is_same_at_multiples_of_32_and_smaller_on_odd_grids():
  keras = models.create("mobilenet_v1", keras_padding=True)
  variables = models.abstract_variables(keras, (224, 224, 3))
  assert models.num_params(variables["params"]) == 4_231_976
  assert _features(keras, (224, 224, 3)) == _features(models.create("mobilenet_v1"),
                                                       (224, 224, 3))
  # 72 -> 36 -> 18 -> 9, then conv_dw_6 (stride 2): Keras pads 9 to 10 -> 4; SAME -> 5.
  assert _features(keras, (72, 72, 3))["stage4"] == (4, 4, 512)
  assert _features(models.create("mobilenet_v1"), (72, 72, 3))["stage4"] == (5, 5, 512)


def test_mobilenet_rejects_tiny_inputs():
  with pytest.raises(ValueError, match=r"got \(1, 16, 16, 3\)"):
    models.create("mobilenet_v1").init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 3)))


# --------------------------------------------------------------------------------- NIN

def test_nin_cifar_classifies_32x32_without_dense_layers():
  model = models.create("nin_cifar")
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 3))
  variables = model.init(jax.random.PRNGKey(1), x, train=False)
  logits = model.apply(variables, x, train=False)
  assert logits.shape == (2, 10) and np.all(np.isfinite(logits))
  features = models.extract_features(model, variables, x)
  # The Caffe model: 32 -> pool (ceil mode) 16 -> 8; the last mlpconv gives 10 class maps
  # whose averages are the logits.
  assert {k: v.shape[1:] for k, v in features.items()} == {
      "mlpconv1": (32, 32, 96), "mlpconv2": (16, 16, 192), "mlpconv3": (8, 8, 10)}
  np.testing.assert_allclose(features["mlpconv3"].mean(axis=(1, 2)), logits, rtol=1e-5)
  assert all(len(v) == 2 for v in variables["params"].values())  # kernels and biases only


def test_nin_imagenet_follows_the_caffe_model():
  model = models.create("nin")
  # NIN-ImageNet at its 224 crop: 54 -> 27 -> 13 -> 6, class maps averaged.
  assert _features(model, (224, 224, 3)) == {
      "mlpconv1": (54, 54, 96), "mlpconv2": (27, 27, 256), "mlpconv3": (13, 13, 384),
      "mlpconv4": (6, 6, 1000)}
  params = models.abstract_variables(model, (224, 224, 3))["params"]
  assert params["conv1"]["kernel"].shape == (11, 11, 3, 96)
  assert params["conv4"]["kernel"].shape == (3, 3, 384, 1024)
  assert params["cccp8"]["kernel"].shape == (1, 1, 1024, 1000)


@pytest.mark.parametrize("size, expected", [(32, 16), (16, 8), (54, 27), (27, 13), (13, 6)])
def test_caffe_pool_rounds_up(size, expected):
  x = jnp.zeros((1, size, size, 1))
  assert nin_lib.caffe_pool(x, "max", 3, 2).shape == (1, expected, expected, 1)


def test_caffe_average_pool_ignores_the_overhang():
  x = jnp.arange(4.0).reshape(1, 4, 1, 1) * jnp.ones((1, 1, 4, 1))
  out = nin_lib.caffe_pool(x, "avg", 3, 2)
  # Rows 0-2 and 2-3 (the second window hangs one row over): means 1 and 2.5.
  np.testing.assert_allclose(out[0, :, 0, 0], [1.0, 2.5])
  with pytest.raises(ValueError, match="pool kind"):
    nin_lib.caffe_pool(x, "min", 3, 2)


def test_zfnet_with_the_adaptive_pool_is_zfnet_at_224_and_takes_64():
  plain, adaptive = models.create("zfnet"), models.create("zfnet", adaptive_pool=True)
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 224, 224, 3))
  variables = plain.init(jax.random.PRNGKey(1), x)
  np.testing.assert_allclose(adaptive.apply(variables, x), plain.apply(variables, x),
                             rtol=1e-6, atol=1e-6)
  assert adaptive.apply(variables, jnp.zeros((2, 64, 64, 3))).shape == (2, 1000)
  with pytest.raises(ValueError, match="63"):
    adaptive.apply(variables, jnp.zeros((1, 62, 62, 3)))
