"""The shared loop with a second task, and its non-finite guard."""
import json

import jax
import numpy as np
import optax
import pytest

from jcnn import parallel, runs, tasks, training
from jcnn import state as state_lib
from tests.helpers import tiny_config
from tests.jcnn.training import toy_regression


def _final_weights(workdir):
  restored = tasks.restore(runs.Run.open(workdir))
  return restored.step, np.asarray(restored.variables["params"]["Dense_0"]["kernel"])[:, 0]


def _strict_records(workdir):
  def refuse(constant):
    raise ValueError(f"non-standard JSON constant {constant}")
  return [json.loads(line, parse_constant=refuse)
          for line in (workdir / runs.METRICS_FILE).read_text().splitlines()]


def test_a_regression_task_trains_through_the_shared_loop(tmp_path):
  results = training.train_and_evaluate(toy_regression.config(), str(tmp_path))
  # 512 examples / 32 = 16 steps an epoch, 3 epochs; checkpoints every 8 steps.
  assert results["step"] == 48 and results["num_examples"] == 128
  assert results["mse"] < 0.02  # the noise variance is 0.01
  # The weights approach the least-squares solution of the training data.
  x, y, *_ = toy_regression.make_data(8, 0.1)
  least_squares = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0][:8]
  step, w = _final_weights(tmp_path)
  assert step == 48
  np.testing.assert_allclose(w, least_squares, atol=0.02)
  run = runs.Run.open(tmp_path)
  assert run.steps()[-1] == 48 and [r["step"] for r in run.records("eval")] == list(
      range(8, 49, 8))
  assert all(r["skipped_steps"] == 0 for r in run.records("train"))


def test_eval_program_scores_a_run_of_another_task(tmp_path, capsys):
  from eval import __main__ as eval_main
  results = training.train_and_evaluate(toy_regression.config(num_epochs=1), str(tmp_path))
  assert eval_main.main(["--workdir", str(tmp_path), "--json"]) == 0
  out = json.loads(capsys.readouterr().out)
  assert out["step"] == 16 and out["mse"] == pytest.approx(results["mse"], rel=1e-6)


def test_a_non_finite_step_changes_nothing_but_the_step_counter():
  model = toy_regression.Linear()
  state = state_lib.create(model, optax.adam(0.1), rng=jax.random.PRNGKey(0),
                           input_shape=(8,), ema_decay=0.9)
  mesh = parallel.make_mesh(1)
  task = toy_regression.ToyRegression()
  step = training.jit_train_step(training.guarded_step(
      task.training(toy_regression.config(), mesh).train_step, optax.constant_schedule(0.1)),
      mesh)
  x, y, *_ = toy_regression.make_data(8, 0.1)
  good = {"x": x[:32], "y": y[:32], "mask": np.ones(32, np.float32)}
  bad = {**good, "x": np.where(np.arange(8) == 3, np.inf, x[:32]).astype(np.float32)}
  state, _, guard = step(state, good, training.new_guard(mesh))
  before = jax.device_get(state)
  state, metrics, guard = step(state, bad, guard)
  after = jax.device_get(state)
  assert int(after.step) == int(before.step) + 1
  for name in ("params", "opt_state", "ema_params"):
    for a, b in zip(jax.tree.leaves(getattr(before, name)), jax.tree.leaves(getattr(after, name))):
      np.testing.assert_array_equal(a, b)  # bitwise
  assert not np.isfinite(float(metrics["loss"]))
  assert (int(guard["consecutive"]), int(guard["skipped"])) == (1, 1)
  state, _, guard = step(state, good, guard)
  assert (int(guard["consecutive"]), int(guard["skipped"])) == (0, 1)


def test_the_loop_counts_skipped_steps_and_trains_on(tmp_path):
  # Steps 5, 6 and 7 (0-based 4-6) see an inf input; step 8 is clean and checkpointed.
  results = training.train_and_evaluate(
      toy_regression.config(num_train_steps=8, inf_at_steps=(4, 5, 6)), str(tmp_path))
  assert results["step"] == 8 and runs.Run.open(tmp_path).steps() == [8]
  train = [r for r in _strict_records(tmp_path) if r["split"] == "train"]
  assert [r["skipped_steps"] for r in train] == [0, 0, 0, 0, 1, 1, 1, 0]
  assert [r["loss"] is None for r in train] == [False] * 4 + [True] * 3 + [False]


def test_too_many_non_finite_steps_stop_the_run_and_keep_good_checkpoints(tmp_path):
  config = toy_regression.config(max_nonfinite_steps=5, inf_at_steps=tuple(range(12, 48)))
  with pytest.raises(training.NonFiniteError, match=r"5 consecutive steps had a non-finite "
                     r"loss.* the last checkpoint, step 8, is kept"):
    training.train_and_evaluate(config, str(tmp_path))
  # Step 16's checkpoint came after 4 skipped steps: a diverged state is not saved.
  assert runs.Run.open(tmp_path).steps() == [8]
  records = _strict_records(tmp_path)
  assert max(r["step"] for r in records) <= 18


def test_a_diverging_learning_rate_stops_with_good_checkpoints_kept(tmp_path):
  training.train_and_evaluate(tiny_config(), str(tmp_path))
  before = _strict_records(tmp_path)
  # The same run trained on at a learning rate of 1e38: every step from the second
  # overflows, none is applied, and after 20 the run stops.
  with pytest.raises(training.NonFiniteError, match="20 consecutive steps"):
    training.train_and_evaluate(tiny_config(num_epochs=4, learning_rate=1e38), str(tmp_path))
  assert runs.Run.open(tmp_path).steps() == [21, 42]
  restored = tasks.restore(runs.Run.open(tmp_path))
  assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(restored.variables))
  records = _strict_records(tmp_path)
  assert records[:len(before)] == before
  assert sum(r["skipped_steps"] for r in records if r["split"] == "train") >= 20


def test_a_field_of_another_task_is_refused(tmp_path):
  config = toy_regression.config()
  config.unlock()
  config.label_smoothing = 0.1
  with pytest.raises(ValueError, match="config.label_smoothing is a field of task "
                                       "'classification', not of task 'regression_toy'"):
    training.train_and_evaluate(config, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_best_metric_must_be_one_the_evaluator_gives(tmp_path):
  with pytest.raises(ValueError, match="config.best_metric='top1' is not an evaluation "
                                       "metric; the evaluator gives mse, num_examples"):
    training.train_and_evaluate(toy_regression.config(best_metric="top1"), str(tmp_path))
