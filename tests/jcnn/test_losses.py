"""softmax_cross_entropy against hand values; l2_penalty on a real Flax model."""
import math

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import losses


def test_cross_entropy_hand_value():
  loss = losses.softmax_cross_entropy(jnp.array([[2.0, 1.0, 0.0]]), jnp.array([0]))
  assert float(loss) == pytest.approx(math.log(1 + math.exp(-1) + math.exp(-2)), rel=1e-6)


def test_integer_and_one_hot_labels_agree():
  logits = jnp.array(np.random.default_rng(0).standard_normal((6, 5)), jnp.float32)
  labels = jnp.array([0, 4, 2, 2, 1, 3])
  one_hot = jax.nn.one_hot(labels, 5)
  for smoothing in (0.0, 0.1):
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(logits, labels, label_smoothing=smoothing,
                                     reduction="none"),
        losses.softmax_cross_entropy(logits, one_hot, label_smoothing=smoothing,
                                     reduction="none"), rtol=1e-6)


def test_label_smoothing_hand_formula():
  logits = np.array([[2.0, 1.0, 0.0], [0.5, -1.0, 3.0]], np.float32)
  labels = np.array([0, 2])
  alpha, k = 0.1, 3
  log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  targets = (1 - alpha) * np.eye(k)[labels] + alpha / k
  expected = -(targets * log_p).sum(axis=1)
  actual = losses.softmax_cross_entropy(jnp.array(logits), jnp.array(labels),
                                        label_smoothing=alpha, reduction="none")
  np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_reductions_and_weight_mask():
  logits = jnp.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
  labels = jnp.array([0, 1, 2])
  per_example = np.array([math.log(1 + math.exp(-1) + math.exp(-2)), math.log(3),
                          5 + math.log(1 + 2 * math.exp(-5))])
  ce = lambda **kw: losses.softmax_cross_entropy(logits, labels, **kw)
  np.testing.assert_allclose(ce(reduction="none"), per_example, rtol=1e-6)
  assert float(ce()) == pytest.approx(per_example.mean(), rel=1e-6)
  assert float(ce(reduction="sum")) == pytest.approx(per_example.sum(), rel=1e-6)
  mask = jnp.array([1.0, 1.0, 0.0])
  assert float(ce(weights=mask)) == pytest.approx(per_example[:2].mean(), rel=1e-6)
  assert float(ce(weights=mask, reduction="sum")) == pytest.approx(
      per_example[:2].sum(), rel=1e-6)
  assert float(ce(weights=jnp.zeros(3))) == 0.0


@pytest.mark.parametrize("labels, kwargs, match", [
    (jnp.array([0, 1]), {}, r"\(3,\)"),
    (jnp.zeros((3, 4)), {}, r"\(3, 3\)"),
    (jnp.array([0.0, 1.0, 2.0]), {}, "integers"),
    (jnp.array([0, 1, 2]), {"reduction": "avg"}, "'avg'"),
    (jnp.array([0, 1, 2]), {"label_smoothing": 1.0}, "1.0"),
    (jnp.array([0, 1, 2]), {"weights": jnp.ones(2)}, r"\(2,\)"),
])
def test_bad_arguments_raise(labels, kwargs, match):
  with pytest.raises(ValueError, match=match):
    losses.softmax_cross_entropy(jnp.zeros((3, 3)), labels, **kwargs)


class _Tiny(flax.linen.Module):
  """A Conv, a BatchNorm and a Dense: every kind of leaf l2_penalty must tell apart."""

  @flax.linen.compact
  def __call__(self, x):
    x = flax.linen.Conv(4, (3, 3))(x)
    x = flax.linen.BatchNorm(use_running_average=True)(x)
    return flax.linen.Dense(3)(x.reshape(x.shape[0], -1))


@pytest.fixture(scope="module")
def params():
  return _Tiny().init(jax.random.key(0), jnp.ones((1, 5, 5, 2)))["params"]


def test_l2_subsets_exact_on_constant_params(params):
  twos = jax.tree.map(lambda p: jnp.full_like(p, 2.0), params)
  # Each selected element adds 0.5 * 2 ** 2 = 2.
  conv_kernel, conv_bias, bn, dense_kernel, dense_bias = 3 * 3 * 2 * 4, 4, 4 + 4, 100 * 3, 3
  assert float(losses.l2_penalty(twos)) == 2 * (conv_kernel + dense_kernel)
  assert float(losses.l2_penalty(twos, "dense")) == 2 * dense_kernel
  assert float(losses.l2_penalty(twos, "all")) == 2 * (
      conv_kernel + conv_bias + bn + dense_kernel + dense_bias)
  assert float(losses.l2_penalty(twos, lambda path, leaf: path[0] == "BatchNorm_0")) == 2 * bn
  assert float(losses.l2_penalty({"params": twos}, lambda p, _: p[-1] == "bias")) == 2 * (
      conv_bias + 4 + dense_bias)


def test_l2_kernels_on_initialised_params(params):
  expected = 0.5 * (np.sum(np.square(params["Conv_0"]["kernel"]))
                    + np.sum(np.square(params["Dense_0"]["kernel"])))
  assert float(losses.l2_penalty(params)) == pytest.approx(expected, rel=1e-6)
  assert float(losses.l2_penalty(params, lambda path, leaf: False)) == 0.0


def test_l2_unknown_subset_raises(params):
  with pytest.raises(ValueError, match="kernels.*dense.*all.*'conv'"):
    losses.l2_penalty(params, "conv")
