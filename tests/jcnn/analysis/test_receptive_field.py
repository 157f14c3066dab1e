"""Receptive fields from the jaxpr: classic arithmetic, published tables, gradients."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jcnn import analysis, models
from jcnn import nn as jnn

# AlexNet as (kernel, stride, padding) on 227×227: conv1 pool1 conv2 pool2 conv3 conv4
# conv5 pool5 fc6 (as a 6×6 conv) fc7 (as a 1×1 conv).
ALEXNET = [[11, 4, 0], [3, 2, 0], [5, 1, 2], [3, 2, 0], [3, 1, 1], [3, 1, 1], [3, 1, 1],
           [3, 2, 0], [6, 1, 0], [1, 1, 0]]
ALEXNET_NAMES = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5",
                 "fc6", "fc7"]
# (n, jump, r, start) per layer: Dang Ha The Hien, "A guide to receptive field arithmetic
# for Convolutional Neural Networks" (2017), AlexNet table.
PUBLISHED_ALEXNET = [(55, 4, 11, 5.5), (27, 8, 19, 9.5), (27, 8, 51, 9.5), (13, 16, 67, 17.5),
                     (13, 16, 99, 17.5), (13, 16, 131, 17.5), (13, 16, 163, 17.5),
                     (6, 32, 195, 33.5), (1, 32, 355, 113.5), (1, 32, 355, 113.5)]


def _formulas(layers, n):
  """The standard recurrences, written out independently of the library."""
  j, r, start, rows = 1, 1, 0.5, []
  for k, s, p in layers:
    n = (n + 2 * p - k) // s + 1
    r, start, j = r + (k - 1) * j, start + ((k - 1) / 2 - p) * j, j * s
    rows.append((n, j, r, start))
  return rows


def test_alexnet_arithmetic_matches_the_published_table():
  table = analysis.receptive_field_from_layers(ALEXNET, 227, names=ALEXNET_NAMES)
  got = [(row.n[0], row.jump[0], row.rf[0], row.start[0]) for row in table.rows]
  assert got == _formulas(ALEXNET, 227) == PUBLISHED_ALEXNET
  assert [row.name for row in table.rows] == ALEXNET_NAMES
  assert table.output.padding == (64.0, 64.0)  # r / 2 - start = 355 / 2 - 113.5


def _alexnet_lax(x):
  """AlexNet's spatial layers as a plain lax function (zero weights: shapes only)."""
  channels = 3
  for k, s, p in ALEXNET:
    if k == 3 and s == 2:
      x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")
    else:
      kernel = jnp.zeros((k, k, channels, 8))
      x = lax.conv_general_dilated(x, kernel, (s, s), ((p, p), (p, p)),
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
      channels = 8
  return x


def test_a_plain_lax_function_gives_the_same_table():
  table = analysis.receptive_field(_alexnet_lax, jax.ShapeDtypeStruct((1, 227, 227, 3),
                                                                       jnp.float32))
  got = [(row.n[0], row.jump[0], row.rf[0], row.start[0]) for row in table.rows]
  assert got == PUBLISHED_ALEXNET
  assert [row.kind for row in table.rows] == ["conv", "pool", "conv", "pool", "conv", "conv",
                                              "conv", "pool", "conv", "conv"]
  assert table.output.rf == (355, 355) and table.output.jump == (32, 32)


@functools.lru_cache(maxsize=None)
def _zoo(name, size, **overrides):
  model = models.create(name, **overrides)
  x = jax.ShapeDtypeStruct((1, size, size, models.info(name).input_shape[2]), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
  return model, variables, x


def _feature_field(name, size, feature, **overrides):
  model, variables, x = _zoo(name, size, **overrides)
  fn = lambda v, x: models.extract_features(model, v, x)[feature]
  return analysis.receptive_field(fn, x, variables=variables)


# google-research/receptive_field, RECEPTIVE_FIELD_TABLE.md (TF-Slim models):
# (model, input, feature, slim end-point, RF, effective stride, effective padding).
PUBLISHED_ZOO = [
    # Slim's alexnet_v2 differs in widths and input (224) but not in the spatial layers
    # up to pool5, so our 227-pixel paper AlexNet has the same field.
    ("alexnet", 227, "pool5", "alexnet_v2/pool5", 195, 32, 64),
    ("vgg16", 224, "pool1", "vgg_16/pool1", 6, 2, 2),
    ("vgg16", 224, "pool3", "vgg_16/pool3", 44, 8, 18),
    ("vgg16", 224, "pool5", "vgg_16/pool5", 212, 32, 90),
    ("inception_v3", 299, "stage3", "Mixed_5d", 127, 8, 50),
    ("inception_v3", 299, "stage4", "Mixed_6e", 927, 16, 442),
    ("inception_v3", 299, "stage5", "Mixed_7c", 1311, 32, 618),
    # MobileNet pads 'SAME' as TF does: the padding depends on the input size, and the
    # table's 224-pixel rows are the ones to compare.
    ("mobilenet_v1", 224, "stage4", "Conv2d_11_pointwise", 219, 16, 94),
    ("mobilenet_v1", 224, "stage5", "Conv2d_13_pointwise", 315, 32, 126),
]


@pytest.mark.parametrize("name,size,feature,endpoint,rf,stride,padding", PUBLISHED_ZOO)
def test_zoo_fields_match_google_research_receptive_field(name, size, feature, endpoint, rf,
                                                          stride, padding):
  out = _feature_field(name, size, feature).output
  assert out.rf == (rf, rf), endpoint
  assert out.jump == (stride, stride), endpoint
  assert out.padding == (padding, padding), endpoint


def test_resnet50_field_differs_from_slim_where_the_stride_sits():
  # Published: resnet_v1_50/block4 483, stride 32 (google-research/receptive_field).
  # Slim strides the LAST unit of blocks 1-3; torchvision (and our resnet50) strides the
  # FIRST unit of stages 2-4, so fewer 3×3 convs run at the larger jumps: 427.
  out = _feature_field("resnet50", 224, "stage4").output
  assert out.rf == (427, 427) and out.jump == (32, 32) and out.padding == (213, 213)
  stem = [[7, 2, 3], [3, 2, 1]]
  unit = lambda stride: [[1, 1, 0], [3, stride, 1], [1, 1, 0]]
  ours = stem + [l for stage, units in enumerate((3, 4, 6, 3))
                 for u in range(units) for l in unit(2 if u == 0 and stage > 0 else 1)]
  slim = stem + [l for block, units in enumerate((3, 4, 6, 3))
                 for u in range(units) for l in unit(2 if u == units - 1 and block < 3 else 1)]
  assert analysis.receptive_field_from_layers(ours, 224).output.rf == (427, 427)
  assert analysis.receptive_field_from_layers(slim, 224).output.rf == (483, 483)


# -- models defined here, not in the zoo


class _Inception(nn.Module):
  """Four parallel branches, concatenated: the largest field wins."""

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(8, (3, 3), strides=2, padding=((1, 1), (1, 1)), name="stem")(x)
    b1 = nn.Conv(4, (1, 1), name="b1")(x)
    b3 = nn.Conv(4, (3, 3), padding="SAME", name="b3")(nn.Conv(4, (1, 1), name="b3_reduce")(x))
    b5 = nn.Conv(4, (5, 5), padding="SAME", name="b5")(x)
    bp = jnn.max_pool(x, 3, 1, "SAME")
    return jnp.concatenate([b1, b3, b5, bp], -1)


class _Residual(nn.Module):
  """A strided residual block with a 1×1 projection shortcut."""
  padding: str | tuple = ((1, 1), (1, 1))

  @nn.compact
  def __call__(self, x):
    y = nn.relu(nn.Conv(8, (3, 3), strides=2, padding=self.padding, name="conv1")(x))
    y = nn.Conv(8, (3, 3), padding=((1, 1), (1, 1)), name="conv2")(y)
    return nn.relu(y + nn.Conv(8, (1, 1), strides=2, name="shortcut")(x))


def _dilated(x):
  """Dilated convs, an explicit asymmetric pad and a strided slice."""
  y = lax.conv_general_dilated(x, jnp.ones((3, 3, 3, 4)), (1, 1), ((2, 2), (2, 2)),
                               rhs_dilation=(2, 2), dimension_numbers=("NHWC", "HWIO", "NHWC"))
  y = jnp.pad(y, ((0, 0), (1, 0), (0, 2), (0, 0)))
  y = y[:, ::2, 1::2]
  return lax.conv_general_dilated(y, jnp.ones((3, 3, 4, 4)), (2, 2), "SAME", rhs_dilation=(3, 3),
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _init(module, size=16):
  """Shapes of the variables (nothing computed) and of the input."""
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  return jax.eval_shape(module.init, jax.random.PRNGKey(0), x), x


def test_branches_meet_with_the_largest_field():
  # A closure over concrete variables: fn of the input alone.
  x = jnp.zeros((1, 16, 16, 3))
  variables = jax.jit(_Inception().init)(jax.random.PRNGKey(0), x)
  table = analysis.receptive_field(lambda x: _Inception().apply(variables, x), x)
  names = [row.name for row in table.rows]
  assert names == ["_Inception/stem", "_Inception/b1", "_Inception/b3_reduce", "_Inception/b3",
                   "_Inception/b5", "_Inception/max_pool_0", "_Inception/merge_0"]
  # stem: r 3, j 2; the 5×5 branch adds 4 * 2 pixels, more than the 3×3 ones.
  assert table.row("_Inception/b5").rf == (11, 11)
  assert table.row("_Inception/merge_0").rf == (11, 11)
  assert table.output.rf == (11, 11) and table.output.start == (0.5, 0.5)


def test_residual_block_paths_are_aligned():
  variables, x = _init(_Residual())
  table = analysis.receptive_field(_Residual().apply, x, variables=variables)
  assert table.row("_Residual/shortcut").rf == (1, 1)
  assert table.row("_Residual").kind == "merge"  # the block's output: where paths meet
  assert table.output.rf == (7, 7) and table.output.jump == (2, 2)


def test_misaligned_paths_raise_like_google_research_receptive_field():
  # 'SAME' on an even input with stride 2 pads (0, 1): the 3×3 path's centre moves one
  # pixel off the unpadded 1×1 shortcut's centre.
  module = _Residual(padding="SAME")
  variables, x = _init(module)
  with pytest.raises(ValueError, match=r"add in _Residual: .*different centres .*0\.5, 1\.5"):
    analysis.receptive_field(module.apply, x, variables=variables)
  # strict=False: the box covering both; the shortcut's pixel lies inside the 3×3 path's.
  table = analysis.receptive_field(module.apply, x, variables=variables, strict=False)
  assert table.output.rf == (7, 7) and table.output.start == (1.5, 1.5)


def test_dilation_padding_and_slicing():
  table = analysis.receptive_field(_dilated, jnp.zeros((1, 40, 40, 3)))
  rows = {row.name: row for row in table.rows}
  assert rows["conv_0"].effective_kernel == (5, 5) and rows["conv_0"].rf == (5, 5)
  assert rows["pad_0"].padding == ((1, 0), (0, 2)) and rows["pad_0"].n == (41, 42)
  assert rows["pad_0"].start == (-0.5, 0.5)
  assert rows["slice_0"].jump == (2, 2) and rows["slice_0"].start == (-0.5, 1.5)
  # 'SAME' resolved for n = 21: 11 outputs, (11 - 1) * 2 + 7 - 21 = 6 padding, 3 before.
  assert rows["conv_1"].padding == ((3, 3), (3, 3)) and rows["conv_1"].rf == (17, 17)
  assert table.output.jump == (4, 4) and table.output.start == (-0.5, 1.5)


def test_global_pooling_and_dense_heads_see_the_whole_input():
  pooled = analysis.receptive_field(lambda x: jnp.mean(jax.nn.relu(x), axis=(1, 2)),
                                    jnp.zeros((1, 16, 12, 3)))
  assert pooled.output.is_global == (True, True) and pooled.output.rf == (16, 12)
  assert [row.kind for row in pooled.rows] == ["global"]
  assert "(global)" in str(pooled)
  dense = analysis.receptive_field(lambda x: x.reshape(1, -1) @ jnp.ones((16 * 16 * 3, 4)),
                                   jnp.zeros((1, 16, 16, 3)))
  assert dense.output.is_global == (True, True)
  # LeNet-5 flattens a 1×1 map: no position is mixed, the field stays C5's.
  model, variables, x = _zoo("lenet5", 32)
  lenet = analysis.receptive_field(lambda v, x: model.apply(v, x), x, variables=variables)
  assert lenet.output.rf == (32, 32) and lenet.output.is_global == (False, False)
  assert [row.name for row in lenet.rows] == ["LeNet5/c1", "LeNet5/max_pool_0", "LeNet5/c3",
                                              "LeNet5/max_pool_1", "LeNet5/c5"]


def test_feature_box_and_features_seeing_are_inverse():
  table = analysis.receptive_field_from_layers(ALEXNET[:3], 227, names=ALEXNET_NAMES[:3])
  box = analysis.feature_box(table, "conv1", (0, 1))
  assert box.box == analysis.Box(0, 4, 11, 15)
  corner = analysis.feature_box(table, "conv2", (0, 0))  # r 51, effective padding 16
  assert corner.box == analysis.Box(-16, -16, 35, 35)
  assert corner.clipped == analysis.Box(0, 0, 35, 35)
  row = table.row("conv2")
  for pixel in range(0, 227, 7):
    rows, _ = analysis.features_seeing(table, "conv2", (pixel, 0))
    for i in range(row.n[0]):
      b = analysis.feature_box(table, "conv2", (i, 0)).box
      assert (i in rows) == (b.top <= pixel < b.bottom)
  with pytest.raises(ValueError, match="outside"):
    analysis.feature_box(table, "conv2", (27, 0))
  with pytest.raises(ValueError, match="no layer named 'conv9'"):
    analysis.features_seeing(table, "conv9", (0, 0))


def test_unsupported_and_input_independent_outputs_raise():
  with pytest.raises(ValueError, match="does not depend on its input"):
    analysis.receptive_field(lambda x: jnp.ones((1, 4)), jnp.zeros((1, 8, 8, 3)))
  with pytest.raises(ValueError, match="gather"):
    analysis.receptive_field(lambda x: x[:, jnp.array([3, 1])], jnp.zeros((1, 8, 8, 3)))


# -- the field measured: gradients of one output feature


def _assert_support_is_the_box(fn, x, positions, variables=None, strict=True):
  maps = analysis.dependency_maps(fn, x, positions, variables=variables, strict=strict)
  for gradient, theory in maps:
    assert analysis.support_box(gradient) == theory.clipped
  return [theory for _, theory in maps]


def test_lenet5_gradient_support_is_the_analytic_box():
  model, variables, x = _zoo("lenet5", 32)
  fn = lambda v, x: models.extract_features(model, v, x)["s4"]
  boxes = _assert_support_is_the_box(fn, x, [None, (0, 0), (4, 1)], variables)
  assert boxes[0].box == analysis.Box(8, 8, 24, 24)  # S4's 16×16 field, centre feature


@pytest.mark.parametrize("module,strict", [(_Inception(), True), (_Residual(), True),
                                           (_Residual(padding="SAME"), False)])
def test_branchy_models_gradient_support_is_the_analytic_box(module, strict):
  variables, x = _init(module, 20)  # shapes only: dependency_map draws random weights
  _assert_support_is_the_box(module.apply, x, [(0, 0), (3, 5)], variables, strict)


def test_dilated_gradient_support_lies_in_the_box():
  x = jnp.zeros((1, 40, 40, 3))
  _assert_support_is_the_box(_dilated, x, [(3, 4), (4, 4)])  # inside the image: same box
  # At the border the dilated taps that would reach the image fall in the padding: the
  # support is inside the clipped box, not all of it.
  gradient, theory = analysis.dependency_map(_dilated, x, (0, 0))
  support = analysis.support_box(gradient)
  assert theory.clipped.top <= support.top and support.bottom <= theory.clipped.bottom
  assert np.count_nonzero(gradient[:, 10:]) == 0


ZOO_SUPPORT = [
    pytest.param("resnet18", 112, "stage2", {}, id="resnet18"),
    pytest.param("mobilenet_v1", 64, "stage3", {}, id="mobilenet_v1"),
    pytest.param("alexnet_1tower", 127, "pool2", {}, id="alexnet_1tower"),
    pytest.param("resnet50", 112, "stage2", {}, id="resnet50", marks=pytest.mark.slow),
    pytest.param("vgg16", 224, "pool3", {}, id="vgg16", marks=pytest.mark.slow),
    pytest.param("inception_v3", 160, "stage3", {"aux_logits": False}, id="inception_v3",
                 marks=pytest.mark.slow),
    pytest.param("alexnet", 227, "pool2", {}, id="alexnet", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name,size,feature,overrides", ZOO_SUPPORT)
def test_zoo_gradient_support_is_the_analytic_box(name, size, feature, overrides):
  model, variables, x = _zoo(name, size, **overrides)
  fn = lambda v, x: models.extract_features(model, v, x)[feature]
  centre, _ = _assert_support_is_the_box(fn, x, [None, (0, 0)], variables)
  assert centre.box == centre.clipped  # the centre feature's field lies inside the image


# -- the effective receptive field (Luo et al. 2016)


def _uniform_stack(depth):
  """`depth` 3×3 convolutions with all-one weights and no nonlinearity, one channel."""
  def fn(x):
    for _ in range(depth):
      x = lax.conv_general_dilated(x, jnp.ones((3, 3, 1, 1)), (1, 1), "SAME",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return x
  return fn


def test_effective_field_of_uniform_weights_is_the_n_fold_convolution():
  # Luo et al. 2016, Sec. 2.2: with uniform weights the input gradient is the n-fold
  # convolution of the kernel, variance n (k^2 - 1) / 12 per axis.
  depth, size = 6, 33
  erf = analysis.effective_receptive_field(_uniform_stack(depth), jnp.zeros((1, size, size, 1)),
                                           num_samples=2)
  one_d = np.array([1.0])
  for _ in range(depth):
    one_d = np.convolve(one_d, np.ones(3))
  expected = np.zeros((size, size))
  c = size // 2
  expected[c - depth:c + depth + 1, c - depth:c + depth + 1] = np.outer(one_d, one_d)
  np.testing.assert_allclose(erf.heatmap, expected / expected.sum(), rtol=1e-5, atol=1e-9)
  rows = np.arange(size) - c
  variance = float((erf.heatmap.sum(1) * rows ** 2).sum())
  assert variance == pytest.approx(depth * (3 ** 2 - 1) / 12, rel=1e-5)
  assert erf.theory.box == analysis.Box(c - depth, c - depth, c + depth + 1, c + depth + 1)
  assert 0 < erf.area_fraction(0.95) < 0.5  # Gaussian-like: most of the field is unused


def test_effective_field_shrinks_relative_to_the_theoretical_field_with_depth():
  # Luo et al.: the effective field grows as sqrt(n), the theoretical one as n.
  fractions = [analysis.effective_receptive_field(
      _uniform_stack(d), jnp.zeros((1, 4 * d + 9, 4 * d + 9, 1)), num_samples=1
  ).area_fraction(0.95) for d in (2, 8)]
  assert fractions[1] < fractions[0] / 2


def test_effective_field_plot(tmp_path):
  import matplotlib
  matplotlib.use("Agg")
  model, variables, x = _zoo("lenet5", 32)
  real = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros(x.shape))
  fn = lambda v, x: models.extract_features(model, v, x)["s4"]
  erf = analysis.effective_receptive_field(fn, x, variables=real, num_samples=4)
  assert erf.heatmap.shape == (32, 32) and erf.heatmap.sum() == pytest.approx(1.0)
  assert np.all(erf.heatmap[:8] == 0) and np.all(erf.heatmap[24:] == 0)  # outside the box
  ax = analysis.plot_effective_receptive_field(erf)
  ax.figure.savefig(tmp_path / "erf.png")
  assert (tmp_path / "erf.png").stat().st_size > 0
