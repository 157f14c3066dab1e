"""local_response_norm against TensorFlow; batch_norm against flax.linen.BatchNorm."""
import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import nn


def _random(shape, seed=0, scale=1.0):
  rng = np.random.default_rng(seed)
  return (scale * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("depth_radius, bias, alpha, beta", [
    (5, 1.0, 1.0, 0.5),   # TensorFlow's defaults
    (2, 2.0, 1e-4, 0.75),  # AlexNet
    (2, 2.0, 2e-5, 0.75),  # AlexNet as Caffe writes it (alpha / n)
    (0, 1.0, 0.5, 1.0),
    (3, 0.5, 0.1, 0.3),
])
def test_lrn_matches_tensorflow(depth_radius, bias, alpha, beta):
  tf = pytest.importorskip("tensorflow")
  x = _random((2, 6, 5, 96), scale=3.0)
  expected = tf.nn.local_response_normalization(
      x, depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta).numpy()
  actual = nn.local_response_norm(x, depth_radius, bias, alpha, beta)
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_lrn_window_clipped_at_edges():
  x = jnp.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
  out = nn.local_response_norm(x, depth_radius=1, bias=0.0, alpha=1.0, beta=1.0)
  np.testing.assert_allclose(out.ravel(), [1 / 5, 2 / 14, 3 / 13], rtol=1e-6)


def test_lrn_bad_radius_raises():
  with pytest.raises(ValueError, match="-1"):
    nn.local_response_norm(jnp.ones((1, 1, 1, 4)), depth_radius=-1)


def _flax_bn(x, momentum, mean, var, train):
  module = flax.linen.BatchNorm(use_running_average=not train, momentum=momentum,
                                epsilon=1e-5)
  variables = module.init(jax.random.key(0), x)
  channels = x.shape[-1]
  params = {"scale": jnp.linspace(0.5, 2.0, channels),
            "bias": jnp.linspace(-1.0, 1.0, channels)}
  variables = {"params": params, "batch_stats": {"mean": mean, "var": var}}
  y, updates = module.apply(variables, x, mutable=["batch_stats"])
  return params, y, updates["batch_stats"]


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_matches_flax(train):
  x = _random((4, 5, 5, 6), scale=2.0) + 3.0
  mean, var = jnp.linspace(0.0, 1.0, 6), jnp.linspace(1.0, 3.0, 6)
  params, expected, stats = _flax_bn(x, 0.8, mean, var, train)
  y, new_mean, new_var = nn.batch_norm(x, params["scale"], params["bias"], mean, var,
                                       train=train, momentum=0.8)
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(new_mean, stats["mean"], rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(new_var, stats["var"], rtol=1e-6, atol=1e-6)


def test_batch_norm_running_stats_by_hand():
  x = _random((8, 3, 3, 2), seed=1)
  mean, var = jnp.ones(2), jnp.full(2, 2.0)
  y, new_mean, new_var = nn.batch_norm(x, jnp.ones(2), jnp.zeros(2), mean, var,
                                       train=True, momentum=0.9)
  np.testing.assert_allclose(new_mean, 0.9 + 0.1 * x.mean(axis=(0, 1, 2)), rtol=1e-5)
  np.testing.assert_allclose(new_var, 1.8 + 0.1 * x.var(axis=(0, 1, 2)), rtol=1e-5)
  np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
  _, same_mean, same_var = nn.batch_norm(x, jnp.ones(2), jnp.zeros(2), mean, var,
                                         train=False)
  assert same_mean is mean and same_var is var


def test_batch_norm_axis_name_averages_over_shards():
  x = _random((8, 3, 3, 4), seed=2)
  args = (jnp.ones(4), jnp.zeros(4), jnp.zeros(4), jnp.ones(4))
  sharded = jax.vmap(
      lambda xs: nn.batch_norm(xs, *args, train=True, axis_name="data"),
      axis_name="data")(x.reshape(4, 2, 3, 3, 4))
  y, mean, var = nn.batch_norm(x, *args, train=True)
  np.testing.assert_allclose(sharded[0].reshape(x.shape), y, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(sharded[1][0], mean, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(sharded[2][0], var, rtol=1e-5, atol=1e-6)


def test_batch_norm_param_shape_checked():
  with pytest.raises(ValueError, match=r"var must have shape \(4,\)"):
    nn.batch_norm(jnp.ones((2, 4)), jnp.ones(4), jnp.ones(4), jnp.ones(4),
                  jnp.ones(3), train=False)


def test_local_response_norm_has_a_gradient_under_jit():
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 2, 2, 8))
  grad = jax.jit(jax.grad(lambda x: nn.local_response_norm(x, 2, 2.0, 1e-4, 0.75).sum()))(x)
  eager = jax.grad(lambda x: nn.local_response_norm(x, 2, 2.0, 1e-4, 0.75).sum())(x)
  np.testing.assert_allclose(grad, eager, rtol=1e-5)
