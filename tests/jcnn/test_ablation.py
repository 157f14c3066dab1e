"""jcnn.ablation: knock-outs against hand-built equivalents, BN statistics against the
batch's own, dropout with batch norm frozen, the ten crops on a hand case."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import ablation
from jcnn import nn as jnn
from jcnn.models import resnet
from jcnn.models.layers import BatchNorm

X = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 3))
# resnet14: two blocks per stage; a stage's first block changes the shape, except the
# first stage's (16 channels in and out).
REMOVABLE = ["stage1_block1", "stage1_block2", "stage2_block2", "stage3_block2"]


def _net(**kwargs):
  model = resnet.cifar_resnet(14, **kwargs)
  variables = jax.jit(lambda x: model.init(jax.random.PRNGKey(1), x, train=False))(X)
  return model, variables


@pytest.fixture(scope="module")
def trained_like():
  """resnet14 with random (not identity-initialised) BN scales, biases and statistics."""
  model, variables = _net()
  leaves, tree = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
  jitter = [leaf + (0.3 * jax.random.uniform(k, leaf.shape) if leaf.ndim == 1 else 0)
            for k, leaf in zip(keys, leaves)]
  return model, jax.tree.unflatten(tree, jitter)


def test_removable_blocks_are_the_shape_keeping_children():
  model, variables = _net()
  blocks = ablation.removable_blocks(model.apply, variables, X)
  assert [b.name for b in blocks] == REMOVABLE
  assert {b.kind for b in blocks} == {"BasicBlock"}
  assert blocks[0].shape == (4, 16, 16, 16) and blocks[-1].shape == (4, 4, 4, 64)


def test_knocking_out_an_identity_initialised_block_changes_nothing():
  model, variables = _net(zero_init_residual=True)  # every residual branch starts at 0
  apply = jax.jit(ablation.knock_out(model.apply, REMOVABLE))
  intact = apply({**variables, ablation.KEEP: np.ones(4, bool)}, X)
  np.testing.assert_array_equal(intact, model.apply(variables, X))
  for i in range(4):
    keep = np.ones(4, bool)
    keep[i] = False
    np.testing.assert_allclose(apply({**variables, ablation.KEEP: keep}, X), intact,
                               rtol=1e-6, atol=1e-6)


def test_removing_a_residual_block_equals_zeroing_its_branch(trained_like):
  # Veit et al.'s deletion: y = relu(x + F(x)) with F = 0 is relu(x) = x, since x is
  # itself a ReLU's output; F is zero when the branch's last BN has scale and bias 0.
  model, variables = trained_like
  apply = jax.jit(ablation.knock_out(model.apply, REMOVABLE))
  for i, name in enumerate(REMOVABLE):
    keep = np.ones(4, bool)
    keep[i] = False
    params = jax.tree.map(lambda a: a, variables["params"])
    params[name]["bn2"] = jax.tree.map(jnp.zeros_like, params[name]["bn2"])
    want = model.apply({**variables, "params": params}, X)
    got = apply({**variables, ablation.KEEP: keep}, X)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(got, model.apply(variables, X), atol=1e-3)


def test_removing_a_plain_block_drops_the_layer():
  model = resnet.cifar_resnet(14, shortcut=None)
  variables = model.init(jax.random.PRNGKey(1), X, train=False)
  names = [b.name for b in ablation.removable_blocks(model.apply, variables, X)]
  assert names == REMOVABLE
  keep = np.array([True, False, True, True])
  got = ablation.knock_out(model.apply, names)({**variables, ablation.KEEP: keep}, X)
  assert not np.allclose(got, model.apply(variables, X), atol=1e-3)


def test_statistics_recomputed_on_one_batch_reproduce_training_mode(trained_like):
  model, variables = trained_like
  batch = {"image": X, "mask": np.ones(4)}
  partial = {"image": X, "mask": np.array([1, 1, 1, 0])}  # skipped: has padding rows
  stats = ablation.recomputed_batch_stats(model.apply, variables, [batch, partial],
                                          jax.random.PRNGKey(0))
  assert jax.tree.structure(stats) == jax.tree.structure(variables["batch_stats"])
  evaluated = model.apply({**variables, "batch_stats": stats}, X, train=False)
  trained, _ = model.apply(variables, X, train=True, mutable=["batch_stats"])
  np.testing.assert_allclose(evaluated, trained, rtol=1e-4, atol=1e-4 * np.abs(trained).max())
  # The first BN reads conv1's output (3×3, padding 1): its statistics by hand.
  conv1 = jax.lax.conv_general_dilated(X, variables["params"]["conv1"]["kernel"], (1, 1),
                                       ((1, 1), (1, 1)),
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
  np.testing.assert_allclose(stats["bn1"]["mean"], conv1.mean(axis=(0, 1, 2)), atol=1e-5)
  np.testing.assert_allclose(stats["bn1"]["var"], conv1.var(axis=(0, 1, 2)), rtol=1e-4)
  with pytest.raises(ValueError, match="no whole batch"):
    ablation.recomputed_batch_stats(model.apply, variables, [partial], jax.random.PRNGKey(0))


class _BatchNormThenDropout(nn.Module):
  rate: float

  @nn.compact
  def __call__(self, x, train=False):
    x = BatchNorm(use_running_average=not train, name="bn")(x)
    key = self.make_rng("dropout") if train and self.rate else None
    return jnn.dropout(x.reshape(x.shape[0], -1), self.rate, key, deterministic=not train)


def test_dropout_on_keeps_batch_norm_on_its_statistics():
  x = X[..., :1].reshape(4, -1)[:, :10]
  model = _BatchNormThenDropout(0.0)
  variables = model.init(jax.random.PRNGKey(0), x)
  variables = {**variables, "batch_stats": {"bn": {"mean": jnp.full(10, 0.5),
                                                  "var": jnp.full(10, 4.0)}}}
  intact = model.apply(variables, x)
  key = jax.random.PRNGKey(3)
  # Rate 0: the only difference train=True could make is batch norm's statistics.
  np.testing.assert_allclose(ablation.dropout_on(model.apply, key)(variables, x), intact,
                             rtol=1e-6)
  dropping = _BatchNormThenDropout(0.5)
  one = ablation.dropout_on(dropping.apply, key)(variables, x)
  np.testing.assert_array_equal(one, ablation.dropout_on(dropping.apply, key)(variables, x))
  assert set(np.unique(np.isclose(one, 0))) == {True, False}
  np.testing.assert_allclose(np.asarray(one)[np.asarray(one) != 0],
                             2 * np.asarray(intact)[np.asarray(one) != 0], rtol=1e-5)
  mean = ablation.dropout_on(dropping.apply, key, samples=8)(variables, x)
  np.testing.assert_allclose(jnp.exp(mean).sum(axis=1), 1.0, rtol=1e-5)


def test_ten_crops_are_the_corners_and_centre_and_their_mirrors():
  x = jnp.arange(1.0, 5.0).reshape(1, 2, 2, 1)  # [[1, 2], [3, 4]]
  crops = [np.asarray(c)[0, :, :, 0] for c in ablation.ten_crops(x, 1, jnp.array([-1.0]))]
  assert len(crops) == 10
  np.testing.assert_array_equal(crops[0], [[-1, -1], [-1, 1]])    # top left
  np.testing.assert_array_equal(crops[3], [[4, -1], [-1, -1]])    # bottom right
  np.testing.assert_array_equal(crops[4], [[1, 2], [3, 4]])       # centre: the image
  np.testing.assert_array_equal(crops[9], [[2, 1], [4, 3]])       # its mirror


def test_averaged_over_views_averages_probabilities():
  logits = jnp.array([[2.0, 0.0], [0.0, 1.0]])
  apply = lambda v, x, train=False: x
  out = ablation.averaged_over(apply, lambda x: [x, -x])(None, logits)
  want = (jax.nn.softmax(logits) + jax.nn.softmax(-logits)) / 2
  np.testing.assert_allclose(jnp.exp(out), want, rtol=1e-6)
  score_map = jnp.stack([logits, -logits], axis=1)[:, :, None, :]  # [2, 2, 1, 2]
  dense = ablation.averaged_over(apply, lambda x: [x])(None, score_map)
  np.testing.assert_allclose(jnp.exp(dense), want, rtol=1e-6)
