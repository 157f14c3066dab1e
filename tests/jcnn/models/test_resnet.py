"""ResNet family: the shapes of the paper's tables, shortcut options, plain nets, options.

Parameter counts against torchvision and the CIFAR reference are in test_zoo.py.
"""
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jcnn import models
from jcnn.models import resnet


def _variables_shape(model, shape=(32, 32, 3)):
  return models.abstract_variables(model, shape)


def _count(model, shape=(32, 32, 3)):
  return models.num_params(_variables_shape(model, shape)["params"])


def _init(model, x):
  # Op by op, not jitted: layers of equal shapes, within and across models, share the
  # compiled ops, which costs less CPU time than compiling each whole model.
  return model.init(jax.random.PRNGKey(0), x, train=False)


def _blocks_with_projection(model):
  params = _variables_shape(model)["params"]
  return sorted(name for name, block in params.items() if "shortcut_conv" in block)


def test_cifar_stage_shapes_follow_section_4_2():
  # He et al. 2016 Section 4.2: feature maps 32×32, 16×16, 8×8 with 16, 32, 64 filters.
  info = models.feature_info(models.create("resnet20"), (32, 32, 3))
  assert [(f["name"], f["shape"], f["stride"]) for f in info] == [
      ("stem", (32, 32, 16), 1), ("stage1", (32, 32, 16), 1), ("stage2", (16, 16, 32), 2),
      ("stage3", (8, 8, 64), 4)]


@pytest.mark.parametrize("name, channels", [
    ("resnet18", (64, 128, 256, 512)),
    ("plain34", (64, 128, 256, 512)),
    ("resnet50", (256, 512, 1024, 2048)),
])
def test_imagenet_stage_shapes_follow_table_1(name, channels):
  # He et al. 2016 Table 1: conv1 112×112; conv2_x .. conv5_x 56, 28, 14, 7; outputs of
  # 64..512 channels (basic blocks) or 256..2048 (bottlenecks).
  info = models.feature_info(models.create(name), (224, 224, 3))
  assert [f["name"] for f in info] == ["stem", "stage1", "stage2", "stage3", "stage4"]
  assert info[0]["shape"] == (112, 112, 64)
  assert [f["shape"] for f in info[1:]] == [
      (size, size, c) for size, c in zip((56, 28, 14, 7), channels)]
  assert [f["stride"] for f in info] == [2, 4, 8, 16, 32]


def test_option_a_has_no_shortcut_parameters():
  assert _blocks_with_projection(models.create("resnet20")) == []
  # Table 2: "the ResNets have no extra parameter compared to their plain counterparts".
  assert (_count(models.create("resnet34", shortcut="A"), (224, 224, 3))
          == _count(models.create("plain34"), (224, 224, 3)) == 21_623_848)


def test_option_b_projects_only_where_the_shape_changes():
  model = models.create("resnet20", shortcut="B")
  assert _blocks_with_projection(model) == ["stage2_block1", "stage3_block1"]
  # 1×1 conv + BN scale and offset: 16·32 + 2·32 = 576 and 32·64 + 2·64 = 2,176.
  assert _count(model) == 269_722 + 576 + 2_176 == 272_474


def test_option_c_projects_every_shortcut():
  model = models.create("resnet20", shortcut="C")
  assert len(_blocks_with_projection(model)) == 9
  # Stage 1: 3 × (16·16 + 32); stage 2: 576 + 2 × (32·32 + 64); stage 3: 2,176 + 2 ×
  # (64·64 + 128).
  extra = 3 * 288 + 576 + 2 * 1_088 + 2_176 + 2 * 4_224
  assert _count(model) == 269_722 + extra == 283_962


def test_pad_shortcut_subsamples_and_appends_zero_channels():
  x = jnp.arange(32.0).reshape(1, 4, 4, 2)  # pixel (i, j) holds channels 8i + 2j, 8i + 2j + 1
  expected = [[[[0, 1, 0, 0], [4, 5, 0, 0]],
               [[16, 17, 0, 0], [20, 21, 0, 0]]]]
  np.testing.assert_array_equal(resnet.pad_shortcut(x, 4, 2), expected)
  np.testing.assert_array_equal(resnet.pad_shortcut(x, 2, 1), x)
  with pytest.raises(ValueError, match="2 -> 1"):
    resnet.pad_shortcut(x, 1, 1)


def test_zero_init_residual_makes_every_block_its_shortcut():
  model = models.create("resnet20", zero_init_residual=True)
  variables = _init(model, jnp.zeros((1, 32, 32, 3)))
  params = variables["params"]
  assert not np.any(params["stage2_block3"]["bn2"]["scale"])
  np.testing.assert_array_equal(params["stage2_block3"]["bn1"]["scale"], 1.0)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
  features = models.extract_features(model, variables, x)
  # Residual branches output 0, so each block is ReLU(shortcut(x)) = shortcut(x) on the
  # non-negative output of the block before.
  np.testing.assert_array_equal(features["stage1"], features["stem"])
  np.testing.assert_array_equal(features["stage2"], resnet.pad_shortcut(features["stage1"], 32, 2))
  default = _init(models.create("resnet20"), x[:1])["params"]  # off, as in the paper
  np.testing.assert_array_equal(default["stage2_block3"]["bn2"]["scale"], 1.0)


def test_plain_net_has_no_additions():
  plain, residual = models.create("plain20"), models.create("resnet20")
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
  variables = _init(residual, x[:1])
  assert jax.tree.structure(_variables_shape(plain)) == jax.tree.structure(variables)
  # Silence every block's last BN: residual blocks pass their input on, plain ones output 0.
  silenced = traverse_util.path_aware_map(
      lambda path, v: jnp.zeros_like(v) if path[-2] == "bn2" else v, variables["params"])
  silenced = {**variables, "params": silenced}
  plain_features = models.extract_features(plain, silenced, x)
  residual_features = models.extract_features(residual, silenced, x)
  assert np.any(residual_features["stage1"])
  np.testing.assert_array_equal(residual_features["stage1"], residual_features["stem"])
  assert not np.any(plain_features["stage1"])
  logits = [m.apply(variables, x) for m in (plain, residual)]
  assert not np.allclose(*logits)


def _tiny_bottleneck(**overrides):
  return resnet.ResNet(stage_sizes=(1, 1, 1, 1), block_cls=resnet.BottleneckBlock,
                       widths=(4, 8, 8, 8), num_classes=3, **overrides)


@pytest.mark.parametrize("stride_in_1x1, conv1_size", [(False, 8), (True, 4)])
def test_bottleneck_stride_placement(stride_in_1x1, conv1_size):
  # 32×32 input: stem 16×16, max pool 8×8, so stage 2 reads 8×8 and outputs 4×4.
  model = _tiny_bottleneck(stride_in_1x1=stride_in_1x1)
  x = jnp.zeros((1, 32, 32, 3))
  variables = _variables_shape(model)
  _, state = jax.eval_shape(
      lambda v: model.apply(v, x, capture_intermediates=True, mutable=["intermediates"]),
      variables)
  block = state["intermediates"]["stage2_block1"]
  assert block["conv1"]["__call__"][0].shape == (1, conv1_size, conv1_size, 8)
  assert block["conv2"]["__call__"][0].shape == (1, 4, 4, 8)
  assert block["conv3"]["__call__"][0].shape == (1, 4, 4, 32)


def _fit(model, x, labels, steps, learning_rate):
  """Adam on one fixed batch in training mode; the loss of every step and the final
  BatchNorm statistics."""
  variables = _init(model, x)
  tx = optax.adam(learning_rate)

  def loss_fn(params, batch_stats):
    logits, updates = model.apply({"params": params, "batch_stats": batch_stats}, x,
                                  train=True, mutable=["batch_stats"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, updates["batch_stats"]

  @jax.jit
  def step(params, batch_stats, opt_state):
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch_stats)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss

  params, batch_stats = variables["params"], variables["batch_stats"]
  opt_state = tx.init(params)
  losses = []
  for _ in range(steps):
    params, batch_stats, opt_state, loss = step(params, batch_stats, opt_state)
    losses.append(float(loss))
  return losses, batch_stats


def test_tiny_bottleneck_net_trains():
  # The bottleneck code path, which resnet50 and up run only in the slow suite: BN
  # statistics update and the loss drops on a fixed batch.
  x = jax.random.normal(jax.random.PRNGKey(0), (6, 32, 32, 3))
  losses, batch_stats = _fit(_tiny_bottleneck(), x, jnp.arange(6) % 3, steps=8,
                             learning_rate=1e-2)
  assert losses[-1] < 0.5 * losses[0], losses
  assert not np.allclose(batch_stats["bn1"]["mean"], 0.0)


@pytest.mark.slow
def test_deep_plain_net_degrades_where_the_residual_net_fits():
  # He et al. 2016 Fig. 6: the 56-layer plain net trains worse than the shallower ones,
  # the 56-layer ResNet better. On one fixed batch of 8, Adam fits ResNet-56 in 8 steps
  # (loss <= 0.01 for seeds 0, 1, 2) while plain-56 stays above 1.
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 32, 32, 3))
  labels = jnp.arange(8) % 5
  residual, _ = _fit(models.create("resnet56", num_classes=5), x, labels, 8, 1e-3)
  plain, _ = _fit(models.create("plain56", num_classes=5), x, labels, 8, 1e-3)
  assert residual[-1] < 0.05, residual
  assert plain[-1] > 0.5, plain


@pytest.mark.parametrize("overrides, message", [
    (dict(shortcut="D"), "shortcut must be one of"),
    (dict(shortcut=None, zero_init_residual=True), "plain net"),
    (dict(stride_in_1x1=True), "bottleneck blocks only"),
    (dict(stem="vgg"), "stem must be one of"),
    (dict(widths=(16, 32)), "same length"),
])
def test_bad_fields_raise(overrides, message):
  model = models.create("resnet20", **overrides)
  with pytest.raises(ValueError, match=message):
    _variables_shape(model)


def test_bad_depth_and_input_raise():
  with pytest.raises(ValueError, match="6n \\+ 2.*21"):
    resnet.cifar_resnet(21)
  with pytest.raises(ValueError, match=r"\(1, 32, 3\)"):
    _variables_shape(models.create("resnet20"), (32, 3))
