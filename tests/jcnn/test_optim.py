"""Schedules and optimizers from configs: the classic recipes' numbers."""
import ml_collections
import numpy as np
import pytest

from jcnn import optim
from train.configs import default


def _config(**fields):
  config = default.base()
  config.update(fields)
  return config


def test_exponential_is_the_classic_mnist_recipe():
  # 0.01 decayed by 0.99 once per epoch (staircase), as the issue states the recipe.
  schedule = optim.make_schedule(_config(schedule="exponential", learning_rate=0.01,
                                         decay_rate=0.99), steps_per_epoch=100, total_steps=1000)
  np.testing.assert_allclose([schedule(0), schedule(99), schedule(100), schedule(250)],
                             [0.01, 0.01, 0.0099, 0.01 * 0.99**2], rtol=1e-6)


def test_step_decay_divides_by_ten_at_boundaries():
  schedule = optim.make_schedule(_config(schedule="step", learning_rate=0.1,
                                         boundaries=(32000, 48000)), 391, 64000)
  np.testing.assert_allclose([schedule(31999), schedule(32000), schedule(47999), schedule(48000)],
                             [0.1, 0.01, 0.01, 0.001], rtol=1e-6)


def test_cosine_warms_up_linearly_then_decays_to_zero():
  schedule = optim.make_schedule(_config(schedule="cosine", learning_rate=0.4,
                                         warmup_epochs=1.0), 10, 110)
  np.testing.assert_allclose([schedule(0), schedule(5), schedule(10), schedule(60), schedule(110)],
                             [0.0, 0.2, 0.4, 0.2, 0.0], atol=1e-6)


@pytest.mark.parametrize("field, value, message", [
    ("schedule", "linear", "unknown schedule 'linear'"),
    ("optimizer", "adagrad", "unknown optimizer 'adagrad'"),
])
def test_unknown_names_are_rejected(field, value, message):
  config = _config(**{field: value})
  with pytest.raises(ValueError, match=message):
    optim.make_optimizer(config, optim.make_schedule(config, 10, 100))


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_every_optimizer_takes_a_step(name):
  import jax.numpy as jnp
  config = _config(optimizer=name, grad_clip_norm=1.0)
  tx = optim.make_optimizer(config, optim.make_schedule(config, 10, 100))
  params = {"w": jnp.ones(3)}
  updates, _ = tx.update({"w": jnp.full(3, 10.0)}, tx.init(params), params)
  assert np.all(np.asarray(updates["w"]) < 0)
