"""A run killed with SIGKILL and started again ends exactly where an uninterrupted one does."""
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax

from jcnn import checkpoint, models
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
  step, raw = checkpoint.restore_variables(workdir, target, use_ema=False)
  _, ema = checkpoint.restore_variables(workdir, target, use_ema=True)
  return step, raw["params"], ema["params"]


def test_sigkill_then_restart_equals_uninterrupted_run(tmp_path):
  straight, resumed = tmp_path / "straight", tmp_path / "resumed"
  done = run_program("train", f"--workdir={straight}", *ARGS)
  assert done.returncode == 0, done.stderr[-2000:]

  command = [sys.executable, "-m", "train", f"--workdir={resumed}", *ARGS]
  victim = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + 240
  while not (resumed / "checkpoints" / "45").is_dir():
    assert victim.poll() is None and time.monotonic() < deadline, "run ended before the kill"
    time.sleep(0.01)
  victim.send_signal(signal.SIGKILL)
  assert victim.wait() == -signal.SIGKILL
  killed_at = checkpoint.all_steps(resumed)
  assert max(killed_at) < FINAL_STEP, f"the kill came too late: {killed_at}"

  again = run_program("train", f"--workdir={resumed}", *ARGS)
  assert again.returncode == 0, again.stderr[-2000:]

  step_a, params_a, ema_a = _final_variables(straight)
  step_b, params_b, ema_b = _final_variables(resumed)
  assert step_a == step_b == FINAL_STEP
  for a, b in zip(jax.tree.leaves((params_a, ema_a)), jax.tree.leaves((params_b, ema_b))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bitwise
