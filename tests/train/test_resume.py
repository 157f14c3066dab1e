"""A run killed (SIGKILL) or preempted (SIGTERM) and started again ends exactly where an
uninterrupted one does; a second writer on a run in use is refused."""
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest

from jcnn import checkpoint, models, runs
from jcnn import state as state_lib
from tests.helpers import REPO, run_program

# 1,347 digits / batch 32 = 42 steps per epoch; 5 epochs; a checkpoint every 15 steps.
ARGS = ["--config.num_epochs=5", "--config.batch_size=32", "--config.checkpoint_every_steps=15",
        "--config.keep_checkpoints=2", "--config.ema_decay=0.9", "--config.model=lenet_tf",
        "--config.resize=28"]
FINAL_STEP = 210


def _final_variables(workdir):
  model = models.create("lenet_tf")
  state = state_lib.create(model, optax.adam(1e-3), rng=jax.random.PRNGKey(0),
                           input_shape=(28, 28, 1), ema_decay=0.9)
  target = {"params": state.params, "batch_stats": {}, "ema_params": state.ema_params}
  checkpoints = runs.Run.open(workdir).checkpoint_dir
  step, raw = checkpoint.restore_variables(checkpoints, target, use_ema=False)
  _, ema = checkpoint.restore_variables(checkpoints, target, use_ema=True)
  return step, raw["params"], ema["params"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """The uninterrupted run's final (step, params, EMA params)."""
  workdir = tmp_path_factory.mktemp("straight")
  done = run_program("train", f"--workdir={workdir}", *ARGS)
  assert done.returncode == 0, done.stderr[-2000:]
  return _final_variables(workdir)


def _start(workdir, *args, stderr=subprocess.DEVNULL):
  return subprocess.Popen([sys.executable, "-m", "train", f"--workdir={workdir}", *args],
                          cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def _wait_for(path, victim, seconds=240):
  deadline = time.monotonic() + seconds
  while not path.exists():
    assert victim.poll() is None and time.monotonic() < deadline, "run ended before the signal"
    time.sleep(0.01)


def _assert_bitwise_equal(straight, resumed):
  step_a, params_a, ema_a = straight
  step_b, params_b, ema_b = _final_variables(resumed)
  assert step_a == step_b == FINAL_STEP
  for a, b in zip(jax.tree.leaves((params_a, ema_a)), jax.tree.leaves((params_b, ema_b))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bitwise


def test_sigkill_then_restart_equals_uninterrupted_run(straight, tmp_path):
  resumed = tmp_path / "resumed"
  victim = _start(resumed, *ARGS)
  _wait_for(resumed / "checkpoints" / "45", victim)
  victim.send_signal(signal.SIGKILL)
  assert victim.wait() == -signal.SIGKILL
  killed_at = runs.Run.open(resumed).steps()
  assert max(killed_at) < FINAL_STEP, f"the kill came too late: {killed_at}"

  again = run_program("train", f"--workdir={resumed}", *ARGS)  # the lock died with it
  assert again.returncode == 0, again.stderr[-2000:]
  _assert_bitwise_equal(straight, resumed)


def test_sigterm_checkpoints_the_current_step_then_resume_equals_uninterrupted_run(
    straight, tmp_path):
  resumed = tmp_path / "resumed"
  victim = _start(resumed, *ARGS, stderr=subprocess.PIPE)
  _wait_for(resumed / "checkpoints" / "45", victim)
  victim.send_signal(signal.SIGTERM)
  _, err = victim.communicate(timeout=120)
  assert victim.returncode == 143, err[-2000:]
  [line] = [l for l in err.splitlines() if l.startswith("stopped by SIGTERM at step ")]
  stopped_at = int(line.split()[5].rstrip(";"))
  assert 45 <= stopped_at < FINAL_STEP
  assert runs.Run.open(resumed).steps()[-1] == stopped_at  # saved at the step it stopped
  again = run_program("train", f"--workdir={resumed}", *ARGS)
  assert again.returncode == 0, again.stderr[-2000:]
  _assert_bitwise_equal(straight, resumed)


def test_a_second_writer_exits_at_once_naming_the_first(tmp_path):
  workdir = tmp_path / "busy"
  first = _start(workdir, "--config.num_epochs=1000", stderr=subprocess.PIPE)
  _wait_for(workdir / "metrics.jsonl", first)  # training, so the lock is held
  second = run_program("train", f"--workdir={workdir}", "--config.num_epochs=1000")
  assert first.poll() is None
  assert second.returncode == 2, second.stderr[-2000:]
  [line] = [l for l in second.stderr.splitlines() if l.startswith("error: ")]
  assert f"is in use by pid {first.pid} on " in line
  first.send_signal(signal.SIGINT)  # Ctrl-C: checkpoint, then exit 130
  _, err = first.communicate(timeout=120)
  assert first.returncode == 130, err[-2000:]
  assert runs.Run.open(workdir).steps()
