"""Orbax checkpoints: round trip, keep-last-K plus best, and damaged checkpoints."""
import pathlib

import jax
import numpy as np
import optax
import pytest

from jcnn import checkpoint, models
from jcnn import state as state_lib


def _state(seed=0, ema=0.0):
  model = models.create("lenet5")
  return state_lib.create(model, optax.adam(1e-3), rng=jax.random.PRNGKey(seed),
                          input_shape=(32, 32, 1), ema_decay=ema)


def _assert_trees_equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_restores_every_field(tmp_path):
  state = _state(seed=1, ema=0.9)
  grads = jax.tree.map(np.ones_like, state.params)
  state = state.apply_gradients(grads=grads)
  manager = checkpoint.make_manager(tmp_path)
  checkpoint.save(manager, state)
  restored = checkpoint.restore_state(manager, _state(seed=2, ema=0.9))
  assert int(restored.step) == 1
  _assert_trees_equal(restored.params, state.params)
  _assert_trees_equal(restored.ema_params, state.ema_params)
  _assert_trees_equal(restored.opt_state, state.opt_state)
  _assert_trees_equal(restored.rng, state.rng)


def test_keeps_last_k_and_the_best(tmp_path):
  state = _state()
  manager = checkpoint.make_manager(tmp_path, keep=2, best_metric="top1")
  for step, top1 in [(1, 0.5), (2, 0.9), (3, 0.6), (4, 0.7), (5, 0.65)]:
    checkpoint.save(manager, state.replace(step=step), {"top1": top1})
  assert checkpoint.all_steps(tmp_path) == [2, 4, 5]


def test_restore_variables_prefers_ema(tmp_path):
  state = _state(ema=0.5)
  state = state.apply_gradients(grads=jax.tree.map(np.ones_like, state.params))
  checkpoint.save(checkpoint.make_manager(tmp_path), state)
  target = {"params": state.params, "batch_stats": {}, "ema_params": state.ema_params}
  step, variables = checkpoint.restore_variables(tmp_path, target)
  assert step == 1
  _assert_trees_equal(variables["params"], state.ema_params)
  _, raw = checkpoint.restore_variables(tmp_path, target, use_ema=False)
  _assert_trees_equal(raw["params"], state.params)


def test_missing_step_lists_available_steps(tmp_path):
  state = _state()
  checkpoint.save(checkpoint.make_manager(tmp_path), state.replace(step=3))
  with pytest.raises(checkpoint.CheckpointError, match="no checkpoint at step 7 .*available steps: 3"):
    checkpoint.restore_state(checkpoint.make_manager(tmp_path), state, step=7)


def test_no_checkpoints_is_a_clear_error(tmp_path):
  with pytest.raises(checkpoint.CheckpointError, match="no checkpoints in"):
    checkpoint.restore_variables(tmp_path, {})


def test_truncated_checkpoint_is_reported_and_left_in_place(tmp_path):
  state = _state()
  checkpoint.save(checkpoint.make_manager(tmp_path), state)
  data_files = [p for p in (tmp_path / "0").rglob("*")
                if p.is_file() and p.stat().st_size > 1000]
  assert data_files
  for path in data_files:
    path.write_bytes(path.read_bytes()[:100])
  with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt"):
    checkpoint.restore_state(checkpoint.make_manager(tmp_path), state)
  assert all(p.exists() for p in data_files)
