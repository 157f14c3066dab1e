"""Schedules and optimizers from configs: the classic recipes' numbers, and fine-tuning's
warm-up, parameter groups, frozen parameters and AdamW by hand."""
import jax
import jax.numpy as jnp
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


@pytest.mark.parametrize("schedule, extra, after", [
    ("constant", {}, [0.1, 0.1, 0.1]),
    ("step", {"boundaries": (30,)}, [0.1, 0.1, 0.01]),
    ("exponential", {"decay_rate": 0.5}, [0.05, 0.025, 0.0125]),
])
def test_every_schedule_warms_up_linearly_then_runs_as_without_warm_up(schedule, extra, after):
  # 10 steps an epoch, one epoch of warm-up: 0, 0.05 at step 5, 0.09 at step 9; then the
  # schedule at its own step count (step 30 divides by ten; each epoch halves).
  config = _config(schedule=schedule, learning_rate=0.1, warmup_epochs=1.0, **extra)
  lr = optim.make_schedule(config, steps_per_epoch=10, total_steps=100)
  np.testing.assert_allclose([lr(0), lr(5), lr(9)], [0.0, 0.05, 0.09], atol=1e-7)
  np.testing.assert_allclose([lr(10), lr(29), lr(30)], after, rtol=1e-6)


def test_a_step_boundary_inside_the_warm_up_is_refused():
  config = _config(schedule="step", boundaries=(5,), warmup_epochs=1.0)
  with pytest.raises(ValueError, match="holds step 5, inside the 10-step warm-up"):
    optim.make_schedule(config, 10, 100)


def _update(config, params, grads):
  """The first update `config`'s optimizer (constant rate) makes from `grads`."""
  tx = optim.make_optimizer(config, optim.make_schedule(config, 10, 100))
  updates, _ = tx.update(grads, tx.init(params), params)
  return jax.tree.map(np.asarray, updates)


def _tree(conv, fc):
  return {"conv1": {"kernel": jnp.asarray(conv, jnp.float32)},
          "fc": {"kernel": jnp.asarray(fc, jnp.float32), "bias": jnp.asarray(fc, jnp.float32)}}


def test_lr_multipliers_scale_each_groups_sgd_step_and_the_first_match_wins():
  config = _config(optimizer="sgd", schedule="constant", learning_rate=0.1,
                   lr_multipliers=("^fc/k=0.5", "conv|fc=0.1"))
  updates = _update(config, _tree([1.0], [1.0]), _tree([2.0], [2.0]))
  # -lr * factor * grad: fc/kernel takes the first entry, fc/bias and conv1 the second.
  np.testing.assert_allclose(updates["fc"]["kernel"], [-0.1 * 0.5 * 2.0], rtol=1e-6)
  np.testing.assert_allclose(updates["fc"]["bias"], [-0.1 * 0.1 * 2.0], rtol=1e-6)
  np.testing.assert_allclose(updates["conv1"]["kernel"], [-0.1 * 0.1 * 2.0], rtol=1e-6)


def test_parameters_no_multiplier_matches_keep_the_rate():
  config = _config(optimizer="momentum", schedule="constant", learning_rate=0.1,
                   lr_multipliers=("conv=0.1",))
  updates = _update(config, _tree([1.0], [1.0]), _tree([2.0], [2.0]))
  np.testing.assert_allclose(updates["fc"]["kernel"], [-0.2], rtol=1e-6)
  np.testing.assert_allclose(updates["conv1"]["kernel"], [-0.02], rtol=1e-6)


def test_frozen_parameters_get_exactly_zero_and_stay_out_of_the_clipped_norm():
  config = _config(optimizer="sgd", schedule="constant", learning_rate=1.0, freeze="^fc/",
                   grad_clip_norm=1.0)
  params = {"conv1": {"kernel": jnp.ones(2)}, "fc": {"kernel": jnp.ones(1)}}
  grads = {"conv1": {"kernel": jnp.array([3.0, 4.0])}, "fc": {"kernel": jnp.array([100.0])}}
  updates = _update(config, params, grads)
  np.testing.assert_array_equal(updates["fc"]["kernel"], [0.0])
  # The norm is that of the trained gradients alone: 5, not sqrt(10,025).
  np.testing.assert_allclose(updates["conv1"]["kernel"], [-0.6, -0.8], rtol=1e-6)


def test_adamw_decays_the_kernels_by_lr_times_its_weight_decay():
  config = _config(optimizer="adamw", schedule="constant", learning_rate=0.1,
                   adamw_weight_decay=0.01)
  updates = _update(config, _tree([2.0], [2.0]), _tree([0.5], [0.5]))
  # Adam's first step is -lr * g / |g| (up to float32's bias correction); the decay adds
  # -lr * 0.01 * w to kernels only (weight_decay_subset "kernels"), not to the bias.
  np.testing.assert_allclose(updates["fc"]["kernel"], [-0.1 - 0.1 * 0.01 * 2.0], rtol=2e-5)
  np.testing.assert_allclose(updates["conv1"]["kernel"], [-0.1 - 0.1 * 0.01 * 2.0], rtol=2e-5)
  np.testing.assert_allclose(updates["fc"]["bias"], [-0.1], rtol=2e-5)


@pytest.mark.parametrize("fields, message", [
    (dict(freeze="^head/"), r"config.freeze: '\^head/' matches no parameter path \(they run "
                            r"from 'conv1/kernel' to 'fc/kernel'\)"),
    (dict(lr_multipliers=("head=0.1",)), "entry head=0.1 sets the rate of no trained"),
    (dict(lr_multipliers=("fc=0.1", "fc/bias=2")), "entry fc/bias=2 sets the rate of no"),
    (dict(freeze="conv", lr_multipliers=("conv=0.1",)), "entry conv=0.1 sets the rate of no"),
])
def test_a_regex_that_chooses_no_parameter_is_refused_at_init(fields, message):
  config = _config(**fields)
  tx = optim.make_optimizer(config, optim.make_schedule(config, 10, 100))
  with pytest.raises(ValueError, match=message):
    tx.init(_tree([1.0], [1.0]))


@pytest.mark.parametrize("fields, message", [
    (dict(lr_multipliers=("conv",)), "entry 'conv' must be 'regex=factor'"),
    (dict(lr_multipliers=("conv=0",)), "entry 'conv=0' must be 'regex=factor'"),
    (dict(lr_multipliers=("conv=x",)), "entry 'conv=x' must be 'regex=factor'"),
    (dict(lr_multipliers=("(=0.1",)), r"entry '\(=0.1' must be 'regex=factor'"),
    (dict(freeze="("), r"config.freeze='\(' is not a regular expression"),
    (dict(adamw_weight_decay=0.05), "config.adamw_weight_decay=0.05 is read by optimizer "
                                    "'adamw' only, not 'adam'"),
    (dict(optimizer="adamw", adamw_weight_decay=-1.0), "adamw_weight_decay=-1.0 must be >= 0"),
    (dict(warmup_epochs=-1.0), "config.warmup_epochs=-1.0 must be >= 0"),
])
def test_bad_fine_tuning_fields_are_refused_in_one_line(fields, message):
  from jcnn import tasks
  with pytest.raises(ValueError, match=message) as error:
    tasks.validate(_config(**fields))
  assert "\n" not in str(error.value)
