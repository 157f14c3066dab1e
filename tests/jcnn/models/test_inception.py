"""The Inception family: module widths against the papers' tables, auxiliary heads,
grid sizes, input limits and the reference implementations' parameter counts.

Everything big runs under `jax.eval_shape` (shapes only); real compute is limited to
single blocks on tiny inputs. Parameter counts against `num_params` are test_zoo's.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import models
from jcnn.models import googlenet, inception_blocks, inception_resnet


def _init_shapes(model, size):
  """Variable shapes of `model` initialised on one [size, size, 3] input (no compute)."""
  return models.abstract_variables(model, (size, size, 3))


def _module_outputs(model, size):
  """Output shape (without batch) of each top-level sub-module, in eval mode."""
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)

  def run(x):
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    _, state = model.apply(variables, x, train=False, capture_intermediates=True,
                           mutable=["intermediates"])
    return state["intermediates"]

  tree = jax.eval_shape(run, x)
  return {name: jax.tree.map(lambda a: a.shape[1:], out["__call__"][0])
          for name, out in tree.items() if isinstance(out, dict) and "__call__" in out}


def _train_outputs(model, size, batch=2):
  """Shapes of the training-mode outputs (dropout on, batch statistics), no compute."""
  x = jnp.zeros((batch, size, size, 3))
  variables = _init_shapes(model, size)
  return jax.eval_shape(
      lambda v: model.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(1)},
                            mutable=["batch_stats"])[0], variables)


# ------------------------------------------------------------------------ GoogLeNet


def test_googlenet_modules_follow_table_1():
  # Szegedy et al. 2014, Table 1: output size of each inception module at 224×224.
  table_1 = {"3a": (28, 256), "3b": (28, 480), "4a": (14, 512), "4b": (14, 512),
             "4c": (14, 512), "4d": (14, 528), "4e": (14, 832), "5a": (7, 832),
             "5b": (7, 1024)}
  outputs = _module_outputs(models.create("googlenet"), 224)
  assert outputs["conv1"] == (112, 112, 64)
  assert outputs["conv2"] == (56, 56, 192)
  for name, (grid, channels) in table_1.items():
    assert outputs[f"inception_{name}"] == (grid, grid, channels), name


def test_googlenet_reductions_give_table_1_ops():
  # The 1×1 reductions set each module's cost: weights × grid cells must give Table 1's
  # "ops" column (millions of multiply-adds) for 3a 128M, 3b 304M, 4b 88M, 4c 100M,
  # 4d 119M, 4e 170M, 5b 71M. (The table's 4a and 5a rows, 73M and 54M, do not follow
  # from its own widths: they give 73.6M and 51.1M.)
  table_1_ops = {"3a": 128, "3b": 304, "4b": 88, "4c": 100, "4d": 119, "4e": 170, "5b": 71}
  grid = {"3": 28, "4": 14, "5": 7}
  variables = _init_shapes(models.create("googlenet", aux_logits=False), 224)
  for name, ops in table_1_ops.items():
    kernels = [v for path, v in jax.tree_util.tree_flatten_with_path(
        variables["params"][f"inception_{name}"])[0] if path[-1].key == "kernel"]
    macs = models.num_params(kernels) * grid[name[0]] ** 2
    assert round(macs / 1e6) == ops, (name, macs)
  # The 3×3 and 5×5 convs see the reduced width, not the module input.
  params = variables["params"]["inception_3a"]
  assert params["3x3"]["conv"]["kernel"].shape == (3, 3, 96, 128)
  assert params["5x5"]["conv"]["kernel"].shape == (5, 5, 16, 32)
  assert params["pool_proj"]["conv"]["kernel"].shape == (1, 1, 192, 32)


def test_googlenet_auxiliary_classifiers_only_in_training():
  model = models.create("googlenet", num_classes=10)
  assert models.info("googlenet").aux_loss_weight == 0.3
  logits, aux = _train_outputs(model, 224)
  assert logits.shape == (2, 10)
  assert [a.shape for a in aux] == [(2, 10), (2, 10)]
  variables = _init_shapes(model, 224)
  evaluated = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((2, 224, 224, 3))), variables)
  assert isinstance(evaluated, jax.ShapeDtypeStruct) and evaluated.shape == (2, 10)
  # Section 5: 1×1 conv 128 on 4a (512 channels) and 4d (528), FC 1024 on 4×4×128.
  params = variables["params"]
  assert params["aux_4a"]["conv"]["conv"]["kernel"].shape == (1, 1, 512, 128)
  assert params["aux_4d"]["conv"]["conv"]["kernel"].shape == (1, 1, 528, 128)
  assert params["aux_4a"]["fc"]["kernel"].shape == (4 * 4 * 128, 1024)


def test_googlenet_without_auxiliary_classifiers_is_the_caffe_deploy_model():
  # Caffe bvlc_googlenet deploy.prototxt (no loss1/loss2 branches): 6,998,552 parameters.
  model = models.create("googlenet", aux_logits=False)
  assert models.num_params(_init_shapes(model, 224)["params"]) == 6_998_552
  assert not isinstance(_train_outputs(model, 224), tuple)


def test_googlenet_auxiliary_input_range():
  model = models.create("googlenet")
  for size in (209, 256):
    assert _train_outputs(model, size)[0].shape == (2, 1000)
  for size in (208, 257):
    with pytest.raises(ValueError, match="14-16 cell grid"):
      _init_shapes(model, size)
  # Evaluation does not run the auxiliary classifiers: any size.
  variables = _init_shapes(model, 224)
  out = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((1, 64, 64, 3))), variables)
  assert out.shape == (1, 1000)


def test_googlenet_inception_module_output_is_the_concatenation():
  module = googlenet.InceptionModule(googlenet.TABLE_1["3a"])
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 6, 6, 192))
  variables = jax.jit(module.init)(jax.random.PRNGKey(1), x)
  out = jax.jit(module.apply)(variables, x)
  assert out.shape == (1, 6, 6, 256)
  params = variables["params"]["1x1"]["conv"]
  np.testing.assert_allclose(
      out[..., :64], jax.nn.relu(x @ params["kernel"][0, 0] + params["bias"]), atol=1e-5)


def test_googlenet_torchvision_layout_has_torchvision_parameters():
  # torchvision googlenet(): 13,004,888 parameters with aux1 and aux2; its weights' meta
  # num_params, 6,624,904, without them.
  model = models.create("googlenet", layout="torchvision")
  variables = _init_shapes(model, 224)
  assert models.num_params(variables["params"]) == 13_004_888
  tower = _init_shapes(models.create("googlenet", layout="torchvision", aux_logits=False), 224)
  assert models.num_params(tower["params"]) == 6_624_904
  params = variables["params"]["inception_3a"]
  assert params["5x5"]["conv"]["kernel"].shape == (3, 3, 16, 32)  # torchvision's 3×3
  assert "bias" not in params["1x1"]["conv"] and "bn" in params["1x1"]
  assert variables["params"]["aux_4a"]["fc"]["kernel"].shape == (4 * 4 * 128, 1024)
  # Ceil-mode pools: 200 -> 100 -> 50 -> 25 -> 13 (SAME: the same) -> 12 (SAME: 13),
  # then the 2×2 pool: 6 (SAME's 3×3: 7).
  outputs = _module_outputs(model, 200)
  assert outputs["inception_4a"] == (12, 12, 512) and outputs["inception_5b"] == (6, 6, 1024)
  caffe = _module_outputs(models.create("googlenet", aux_logits=False), 200)
  assert caffe["inception_4a"] == (13, 13, 512) and caffe["inception_5b"] == (7, 7, 1024)
  # Adaptive auxiliary pools: training at any size torchvision takes.
  assert [a.shape for a in _train_outputs(model, 160)[1]] == [(2, 1000), (2, 1000)]
  with pytest.raises(ValueError, match="unknown googlenet layout 'tf'"):
    _init_shapes(models.create("googlenet", layout="tf"), 224)


# ----------------------------------------------------------------------- BN-Inception


def test_inception_v2_modules_follow_figure_5():
  # Ioffe & Szegedy 2015, Figure 5 output sizes (3a-4b). 4c, 4d and 4e follow the widths
  # of the same table, as Caffe's BN-Inception (Cadene's bninception: inception_4d
  # takes 608 channels, inception_5a 1056) and MXNet's inception-bn do.
  expected = {"3a": (28, 256), "3b": (28, 320), "3c": (14, 576), "4a": (14, 576),
              "4b": (14, 576), "4c": (14, 608), "4d": (14, 608), "4e": (7, 1056),
              "5a": (7, 1024), "5b": (7, 1024)}
  outputs = _module_outputs(models.create("inception_v2"), 224)
  for name, (grid, channels) in expected.items():
    assert outputs[f"inception_{name}"] == (grid, grid, channels), name


def test_inception_v2_stem_and_cadene_count():
  variables = _init_shapes(models.create("inception_v2"), 224)
  # The appendix: separable first conv, depth multiplier 8 (TF-slim: depthwise 7×7×3×8).
  assert variables["params"]["conv1_depthwise"]["kernel"].shape == (7, 7, 1, 24)
  assert variables["params"]["conv1"]["conv"]["kernel"].shape == (1, 1, 24, 64)
  # Cadene pretrainedmodels bninception.py (Caffe port): full 7×7 first conv and a bias
  # on every conv, 11,295,240 parameters in all.
  plain = _init_shapes(models.create("inception_v2", separable_stem=False), 224)
  conv_channels = models.num_params(plain["batch_stats"]) // 2
  assert models.num_params(plain["params"]) + conv_channels == 11_295_240


# ----------------------------------------------------------------------- Inception v3


def test_inception_v3_grids_and_widths():
  # Szegedy et al. 2016, Table 1: 35×35×288, 17×17×768, 8×8×2048 at 299×299.
  info = models.feature_info(models.create("inception_v3"), (299, 299, 3))
  assert [(f["name"], f["shape"]) for f in info] == [
      ("stage1", (147, 147, 64)), ("stage2", (71, 71, 192)), ("stage3", (35, 35, 288)),
      ("stage4", (17, 17, 768)), ("stage5", (8, 8, 2048))]
  outputs = _module_outputs(models.create("inception_v3"), 299)
  assert outputs["Mixed_5b"] == (35, 35, 256)
  assert outputs["Mixed_7a"] == (8, 8, 1280)


def test_inception_v3_auxiliary_head_and_reference_counts():
  model = models.create("inception_v3", num_classes=10)
  assert models.info("inception_v3").aux_loss_weight == 0.4  # TF-slim train_image_classifier
  logits, aux = _train_outputs(model, 299)
  assert logits.shape == (2, 10) and [a.shape for a in aux] == [(2, 10)]
  variables = _init_shapes(model, 299)
  assert variables["params"]["AuxLogits"]["conv1"]["conv"]["kernel"].shape == (5, 5, 128, 768)
  out = jax.eval_shape(lambda v: model.apply(v, jnp.zeros((2, 299, 299, 3))), variables)
  assert out.shape == (2, 10)

  # torchvision: 27,161,264 with the auxiliary classifier (test_zoo); without it the
  # main tower. Keras InceptionV3 (no aux, BN scale=False): 23,851,784 counting moving
  # statistics, i.e. the tower's parameters - BN scales + BN mean and variance.
  tower = _init_shapes(models.create("inception_v3", aux_logits=False), 299)
  stats = models.num_params(tower["batch_stats"])
  assert models.num_params(tower["params"]) == 27_161_264 - 3_326_696
  assert models.num_params(tower["params"]) - stats // 2 + stats == 23_851_784


def test_inception_v3_torchvision_layout_counts_the_pools_padding():
  variables = _init_shapes(models.create("inception_v3", layout="torchvision"), 299)
  assert models.num_params(variables["params"]) == 27_161_264
  ones = jnp.ones((1, 3, 3, 1))
  # The corner's window has 4 real cells of 9: TF-slim averages them, torchvision / 9.
  assert inception_blocks.avg_pool_3x3(ones)[0, 0, 0, 0] == 1.0
  np.testing.assert_allclose(inception_blocks.avg_pool_3x3(ones, True)[0, 0, 0, 0], 4 / 9)


def test_inception_v3_input_limits():
  # Keras documents 75×75 as the smallest input; the auxiliary head needs 299.
  tower = models.create("inception_v3", aux_logits=False)
  assert _module_outputs(tower, 75)["Mixed_7c"] == (1, 1, 2048)
  with pytest.raises(ValueError, match=">= 75"):
    _init_shapes(tower, 74)
  with pytest.raises(ValueError, match=">= 299"):
    _init_shapes(models.create("inception_v3"), 298)


# ------------------------------------------------------- Inception-v4, Inception-ResNet


def test_inception_v4_stem_and_reductions():
  # Szegedy et al. 2017: Figure 3 stem 35×35×384; Reduction-A (Table 1 k, l, m, n =
  # 192, 224, 256, 384) to 17×17×1024; Reduction-B to 8×8×1536.
  outputs = _module_outputs(models.create("inception_v4"), 299)
  assert outputs["stem"][-1] == (35, 35, 384)
  assert outputs["inception_a4"] == (35, 35, 384)
  assert outputs["reduction_a"] == (17, 17, 384 + 256 + 384)
  assert outputs["inception_b7"] == (17, 17, 1024)
  assert outputs["reduction_b"] == (8, 8, 1536)
  assert outputs["inception_c3"] == (8, 8, 1536)
  params = _init_shapes(models.create("inception_v4"), 299)["params"]["reduction_a"]
  assert params["branch_3x3"]["conv"]["kernel"].shape == (3, 3, 384, 384)            # n
  assert params["branch_double_1x1"]["conv"]["kernel"].shape == (1, 1, 384, 192)     # k
  assert params["branch_double_3x3a"]["conv"]["kernel"].shape == (3, 3, 192, 224)    # l
  assert params["branch_double_3x3b"]["conv"]["kernel"].shape == (3, 3, 224, 256)    # m


def test_inception_v4_tf_slim_layout_transposes_the_last_branches_of_b_and_c():
  # TF-slim's block_inception_b: 7×1 192 -> 1×7 224 -> 7×1 224 -> 1×7 256; block_inception_c:
  # 3×1 448 -> 1×3 512 -> (1×3 256, 3×1 256). The same count as the paper's (timm's
  # 42,679,816: test_zoo), under the paper's names.
  variables = _init_shapes(models.create("inception_v4", layout="tf_slim"), 299)
  assert models.num_params(variables["params"]) == 42_679_816
  b, c = variables["params"]["inception_b1"], variables["params"]["inception_c1"]
  assert b["b2_1x7a"]["conv"]["kernel"].shape == (7, 1, 192, 192)
  assert b["b2_7x1b"]["conv"]["kernel"].shape == (1, 7, 224, 256)
  assert c["b2_1x3"]["conv"]["kernel"].shape == (3, 1, 384, 448)
  assert c["b2_3x1"]["conv"]["kernel"].shape == (1, 3, 448, 512)
  assert c["b2_3x1_out"]["conv"]["kernel"].shape == (1, 3, 512, 256)  # concatenated first
  paper = _init_shapes(models.create("inception_v4"), 299)["params"]["inception_c1"]
  assert paper["b2_1x3"]["conv"]["kernel"].shape == (1, 3, 384, 448)


def test_inception_resnet_grids_and_widths():
  # v1: Figure 14 stem 35×35×256, then 896 (Reduction-A 192, 192, 256, 384) and 1792
  # (Figure 12). v2 (TF-slim, Keras): Mixed_5b 35×35×320, 1088, 2080, conv_7b 1536.
  v1 = _module_outputs(models.create("inception_resnet_v1"), 299)
  assert v1["stem_conv6"] == (35, 35, 256)
  assert v1["block35_5"] == (35, 35, 256)
  assert v1["block17_10"] == (17, 17, 896)
  assert v1["block8_5"] == (8, 8, 1792)
  assert "block35_6" not in v1 and "block8_6" not in v1
  v2 = _module_outputs(models.create("inception_resnet_v2"), 299)
  assert v2["mixed_5b"] == (35, 35, 320)
  assert v2["block35_10"] == (35, 35, 320)
  assert v2["block17_20"] == (17, 17, 1088)
  assert v2["block8_10"] == (8, 8, 2080)
  assert v2["conv_7b"] == (8, 8, 1536)


def test_inception_resnet_v2_keras_count():
  # Keras InceptionResNetV2: 55,873,736 parameters (BN scale=False, moving statistics
  # counted) = timm's 55,843,464 - BN scales + BN mean and variance.
  variables = _init_shapes(models.create("inception_resnet_v2"), 299)
  stats = models.num_params(variables["batch_stats"])
  assert models.num_params(variables["params"]) - stats // 2 + stats == 55_873_736


def test_residual_block_scales_the_linear_branch():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 3, 16))

  @jax.jit
  def run(x):  # one compile instead of one per op
    scaled = inception_resnet.InceptionResNetBlock(inception_resnet.V1.block_c, scale=0.2)
    linear = inception_resnet.InceptionResNetBlock(inception_resnet.V2.block_c, scale=1.0,
                                                   activation=False)
    results = []
    for block in (scaled, linear):
      variables = block.init(jax.random.PRNGKey(1), x)
      out, inner = block.apply(variables, x, capture_intermediates=True,
                               mutable=["intermediates"])
      results.append((variables["params"], out, inner["intermediates"]["up"]["__call__"][0]))
    return results

  (params, out, up), (_, linear_out, linear_up) = run(x)
  np.testing.assert_allclose(out, jax.nn.relu(x + 0.2 * up), atol=1e-6)
  # The up-projection is linear with a bias and no batch norm (TF-slim, Keras).
  assert set(params["up"]) == {"kernel", "bias"}
  np.testing.assert_allclose(linear_out, x + linear_up, atol=1e-6)


# --------------------------------------------------------------------------- family


@pytest.mark.parametrize("name, grids, channels", [
    ("googlenet", [112, 56, 28, 14, 7], [64, 192, 480, 832, 1024]),
    ("inception_v2", [112, 56, 28, 14, 7], [64, 192, 320, 608, 1024]),
    ("inception_v4", [147, 73, 35, 17, 8], [64, 160, 384, 1024, 1536]),
    ("inception_resnet_v1", [147, 71, 35, 17, 8], [64, 192, 256, 896, 1792]),
    ("inception_resnet_v2", [147, 71, 35, 17, 8], [64, 192, 320, 1088, 1536]),
])
def test_feature_stages(name, grids, channels):
  # One stage per grid size (strides 2-32); the 299-pixel networks' VALID stems give
  # the papers' 147, 73 or 71, 35, 17 and 8.
  info = models.feature_info(models.create(name), models.info(name).input_shape)
  assert [f["name"] for f in info] == [f"stage{i}" for i in range(1, 6)]
  assert [f["shape"][:2] for f in info] == [(g, g) for g in grids]
  assert [f["channels"] for f in info] == channels


@pytest.mark.parametrize("name", ["googlenet", "inception_v3", "inception_v4",
                                  "inception_resnet_v1", "inception_resnet_v2"])
def test_min_input_size_is_the_smallest_accepted(name):
  size = models.info(name).min_input_size
  model = models.create(name)
  assert _train_outputs(model, size, batch=1) is not None
  with pytest.raises(ValueError, match=f">= {size}"):
    _init_shapes(model, size - 1)


def test_only_googlenet_and_inception_v3_have_auxiliary_losses():
  names = ["googlenet", "inception_v2", "inception_v3", "inception_v4", "inception_resnet_v1",
           "inception_resnet_v2"]
  weights = {n: models.info(n).aux_loss_weight for n in names}
  # GoogLeNet Section 5: 0.3; TF-slim train_image_classifier.py: 0.4 for Inception v3.
  assert weights == {"googlenet": 0.3, "inception_v2": 0.0, "inception_v3": 0.4,
                     "inception_v4": 0.0, "inception_resnet_v1": 0.0,
                     "inception_resnet_v2": 0.0}
