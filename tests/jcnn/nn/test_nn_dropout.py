"""Inverted dropout: statistics, determinism and argument checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import nn


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_mean_preserved_and_zero_fraction(rate):
  x = jnp.ones((1000, 1000))
  y = nn.dropout(x, rate, jax.random.key(0))
  assert float(jnp.mean(y == 0)) == pytest.approx(rate, abs=0.005)
  assert float(jnp.mean(y)) == pytest.approx(1.0, abs=0.02)
  np.testing.assert_allclose(y[y != 0], 1.0 / (1.0 - rate), rtol=1e-6)


def test_same_key_same_mask_other_key_other_mask():
  x = jnp.arange(1.0, 1001.0)
  a, b = nn.dropout(x, 0.5, jax.random.key(1)), nn.dropout(x, 0.5, jax.random.key(1))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, nn.dropout(x, 0.5, jax.random.key(2)))


def test_identity_when_deterministic_or_rate_zero():
  x = jnp.arange(5.0)
  assert nn.dropout(x, 0.5, None, deterministic=True) is x
  assert nn.dropout(x, 0.0, None) is x


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_bad_rate_raises(rate):
  with pytest.raises(ValueError, match=str(rate)):
    nn.dropout(jnp.ones(3), rate, jax.random.key(0))


def test_missing_key_raises():
  with pytest.raises(ValueError, match="key"):
    nn.dropout(jnp.ones(3), 0.5, None)
