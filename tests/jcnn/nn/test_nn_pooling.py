"""max_pool, avg_pool and global_avg_pool against TensorFlow and by hand."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import nn


@pytest.fixture(scope="module")
def tf():
  return pytest.importorskip("tensorflow")


def _random(shape, seed=0):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("window, stride, padding", [
    (2, None, "VALID"),
    (3, 2, "VALID"),
    (3, 2, "SAME"),
    ((3, 2), (1, 2), "SAME"),
    (3, 1, "SAME"),
])
def test_max_pool_matches_tensorflow(tf, window, stride, padding):
  x = _random((2, 13, 12, 5))
  expected = tf.nn.max_pool2d(x, window, stride or window, padding).numpy()
  actual = nn.max_pool(x, window, stride, padding)
  assert actual.shape == expected.shape
  np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("window, stride, padding", [
    (2, None, "VALID"),
    (3, 2, "VALID"),
    (3, 2, "SAME"),
    ((3, 2), (1, 2), "SAME"),
    (5, 3, "SAME"),
])
def test_avg_pool_matches_tensorflow_excluding_padding(tf, window, stride, padding):
  x = _random((2, 13, 12, 5))
  expected = tf.nn.avg_pool2d(x, window, stride or window, padding).numpy()
  actual = nn.avg_pool(x, window, stride, padding, count_include_pad=False)
  assert actual.shape == expected.shape
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_alexnet_overlapping_pool_shape(tf):
  x = _random((1, 55, 55, 4))
  actual = nn.max_pool(x, 3, 2)
  assert actual.shape == (1, 27, 27, 4)
  np.testing.assert_array_equal(actual, tf.nn.max_pool2d(x, 3, 2, "VALID").numpy())


def test_max_pool_padding_never_wins():
  x = -jnp.ones((1, 2, 2, 1))
  np.testing.assert_array_equal(nn.max_pool(x, 2, 1, padding=1), -jnp.ones((1, 3, 3, 1)))


def test_explicit_padding_equals_pad_then_valid():
  x = _random((1, 7, 6, 2))
  pads = ((1, 2), (0, 1))
  zero_padded = jnp.pad(x, ((0, 0), *pads, (0, 0)))
  inf_padded = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=-jnp.inf)
  np.testing.assert_array_equal(nn.max_pool(x, 3, 2, pads),
                                nn.max_pool(inf_padded, 3, 2))
  np.testing.assert_allclose(nn.avg_pool(x, 3, 2, pads),
                             nn.avg_pool(zero_padded, 3, 2), rtol=1e-6)


def test_avg_pool_counts_only_real_cells():
  x = jnp.arange(1.0, 5.0).reshape(1, 2, 2, 1)
  out_incl = nn.avg_pool(x, 2, 1, padding=((1, 0), (1, 0)))
  out_excl = nn.avg_pool(x, 2, 1, padding=((1, 0), (1, 0)), count_include_pad=False)
  # The top-left window holds only x[0, 0] = 1 and three padded cells.
  assert out_incl[0, 0, 0, 0] == pytest.approx(0.25)
  assert out_excl[0, 0, 0, 0] == pytest.approx(1.0)
  assert out_excl[0, 1, 1, 0] == pytest.approx(2.5)


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["eager", "jit"])
def test_pools_have_gradients(transform):
  x = jnp.array([[1.0, 3.0], [2.0, 0.0]]).reshape(1, 2, 2, 1)
  grad = transform(jax.grad(lambda x: nn.max_pool(x, 2).sum()))(x)
  np.testing.assert_array_equal(grad.reshape(2, 2), [[0.0, 1.0], [0.0, 0.0]])
  grad = transform(jax.grad(lambda x: nn.avg_pool(x, 2, padding="SAME",
                                                  count_include_pad=False).sum()))(x)
  np.testing.assert_allclose(grad.reshape(2, 2), [[0.25, 0.25], [0.25, 0.25]])


def test_global_avg_pool():
  x = _random((2, 5, 4, 3))
  np.testing.assert_allclose(nn.global_avg_pool(x), x.mean(axis=(1, 2)), rtol=1e-6)
  assert nn.global_avg_pool(x, keepdims=True).shape == (2, 1, 1, 3)


@pytest.mark.parametrize("fn", [nn.max_pool, nn.avg_pool])
def test_bad_arguments_raise(fn):
  with pytest.raises(ValueError, match="4-D"):
    fn(jnp.zeros((4, 4, 3)), 2)
  with pytest.raises(ValueError, match="window"):
    fn(jnp.zeros((1, 4, 4, 3)), (2, 2, 2))
  with pytest.raises(ValueError, match="'same '"):
    fn(jnp.zeros((1, 4, 4, 3)), 2, padding="same ")


@pytest.mark.parametrize("shape, window, padding", [
    ((4, 28, 28, 6), 2, "VALID"), ((2, 10, 10, 16), 2, "SAME"), ((3, 12, 9, 5), 3, "VALID"),
    ((2, 8, 8, 4), (2, 4), "VALID")])
def test_tiled_max_pool_equals_reduce_window_value_and_gradient(shape, window, padding):
  # Non-overlapping windows take the fast-gradient path; the reference is XLA's
  # reduce_window max pooling and its select-and-scatter gradient.
  from jax import lax
  from jcnn.nn import pooling
  kh, kw = (window, window) if isinstance(window, int) else window
  reference = lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (1, kh, kw, 1),
                                          (1, kh, kw, 1), padding)
  fast = lambda x: pooling.max_pool(x, window, padding=padding)
  key = jax.random.PRNGKey(0)
  x = jax.random.normal(key, shape)
  # Ties: whole windows of one value (ReLU zeros, a digit's blank background) must send
  # their gradient to the first cell, as select-and-scatter does.
  x_ties = jnp.where(jax.random.bernoulli(key, 0.5, shape), 0.0, x).at[:, :4].set(1.0)
  g = jax.random.normal(jax.random.PRNGKey(1), reference(x).shape)
  for inputs in (x, x_ties):
    want, want_vjp = jax.vjp(reference, inputs)
    got, got_vjp = jax.vjp(jax.jit(fast), inputs)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_vjp(g)[0], want_vjp(g)[0])
  # The forward stays a reduce_window (what jcnn.analysis reads); the backward is not a
  # select-and-scatter.
  assert "reduce_window_max" in str(jax.make_jaxpr(fast)(x))
  assert "select_and_scatter" not in str(jax.make_jaxpr(jax.grad(lambda x: fast(x).sum()))(x))


def test_overlapping_max_pool_keeps_reduce_window():
  x = jnp.zeros((1, 9, 9, 2))
  assert "reduce_window_max" in str(jax.make_jaxpr(lambda x: nn.max_pool(x, 3, 2))(x))
