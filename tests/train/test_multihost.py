"""`python -m train` on several processes (jax.distributed, gloo on localhost) trains,
evaluates and resumes exactly as one process with as many devices does.

Each test starts real processes, bounds their time and kills every one it started,
whatever happens; the coordinator's port is a free one.
"""
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jcnn import checkpoint, runs, supervisor, tasks
from tests.helpers import REPO

# LeNet-5 on the digits: 450 test images in batches of 64, so the last batch is uneven
# (2 real examples), and the 2 x 2 devices each get 16 of a training batch's 32.
ARGS = ("--config.num_train_steps=20", "--config.batch_size=32",
        "--config.eval_batch_size=64", "--config.checkpoint_every_steps=10",
        "--config.log_every_steps=5", "--config.flip=False")
TIMEOUT_S = 300


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(devices: int) -> dict:
  env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
         "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
  env.pop("JCNN_XLA_CPU_FLAGS", None)
  return env


@contextlib.contextmanager
def _processes(commands: list[list[str]], devices: int, program: str = "train"):
  """Starts `python -m <program>` with each argument list; kills all that remain at exit."""
  procs = [subprocess.Popen([sys.executable, "-m", program, *args], cwd=REPO,
                            env=_env(devices), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True) for args in commands]
  try:
    yield procs
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
      p.communicate()


def _group(workdir, *args, n: int = 2, port: int | None = None) -> list[list[str]]:
  port = port or _free_port()
  return [[f"--workdir={workdir}", f"--coordinator=127.0.0.1:{port}",
           f"--num_processes={n}", f"--process_id={i}", *ARGS, *args] for i in range(n)]


def _finish(procs, timeout=TIMEOUT_S) -> list[tuple[int, str, str]]:
  """Each process's (exit status, stdout, stderr); fails if any outlives `timeout`."""
  deadline = time.monotonic() + timeout
  results = []
  for p in procs:
    try:
      out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      pytest.fail(f"a process of the group ran past {timeout} s")
    results.append((p.returncode, out, err))
  return results


def _train_group(workdir, *args, n: int = 2, devices: int = 2):
  with _processes(_group(workdir, *args, n=n), devices) as procs:
    results = _finish(procs)
  for status, _, err in results:
    assert status == 0, err[-3000:]
  return results


def _records(workdir, split):
  return runs.Run.open(workdir).records(split)


def _params(workdir):
  run = runs.Run.open(workdir)
  return tasks.restore(run).variables


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
  """The reference: one process with 4 devices."""
  workdir = tmp_path_factory.mktemp("one_process")
  with _processes([[f"--workdir={workdir}", *ARGS]], devices=4) as procs:
    [(status, _, err)] = _finish(procs)
  assert status == 0, err[-3000:]
  return workdir


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
  """2 processes x 2 devices; returns (workdir, [(status, stdout, stderr)] of each)."""
  workdir = tmp_path_factory.mktemp("two_processes")
  return workdir, _train_group(workdir)


def test_two_processes_train_the_steps_of_one_process_of_four_devices(one_process,
                                                                      two_processes):
  workdir, results = two_processes
  one = [r["loss"] for r in _records(one_process, "train")]
  two = [r["loss"] for r in _records(workdir, "train")]
  assert len(one) == len(two) == 4
  np.testing.assert_allclose(two, one, rtol=0, atol=1e-5)
  a, b = _params(one_process), _params(workdir)
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=0, atol=1e-5)
  # Process 0 reports and writes; process 1 is silent (but for gloo's own lines).
  (_, out0, _), (_, out1, err1) = results
  assert json.loads(out0.strip().splitlines()[-1])["step"] == 20
  assert "{" not in out1 and "eval top1" not in err1


def test_evaluation_of_an_uneven_split_equals_one_process(one_process, two_processes):
  workdir, _ = two_processes
  one, two = _records(one_process, "eval"), _records(workdir, "eval")
  assert [r["step"] for r in two] == [10, 20]
  for a, b in zip(one, two):
    assert b["num_examples"] == a["num_examples"] == 450
    for key in ("top1", "top5"):
      assert b[key] == a[key]  # counts of the same examples: exactly equal
    assert b["loss"] == pytest.approx(a["loss"], abs=1e-6)


def test_python_m_eval_on_two_processes_equals_the_runs_own_evaluation(two_processes):
  """`eval evaluate` on 2 processes x 2 devices, the uneven split: the numbers the run
  logged at its last step, printed once."""
  workdir, _ = two_processes
  port = _free_port()
  commands = [["evaluate", f"--workdir={workdir}", "--json", f"--coordinator=127.0.0.1:{port}",
               "--num_processes=2", f"--process_id={i}"] for i in range(2)]
  with _processes(commands, devices=2, program="eval") as procs:
    (status0, out0, err0), (status1, out1, err1) = _finish(procs)
  assert status0 == status1 == 0, err0[-3000:] + err1[-3000:]
  got = json.loads(out0.strip().splitlines()[-1])
  want = _records(workdir, "eval")[-1]
  assert got["step"] == want["step"] == 20 and got["num_examples"] == 450
  assert got["top1"] == want["top1"] and got["top5"] == want["top5"]
  assert got["loss"] == pytest.approx(want["loss"], abs=1e-6)
  assert "{" not in out1


def test_a_killed_group_restarted_ends_equal_to_an_uninterrupted_one(two_processes,
                                                                     tmp_path):
  reference, _ = two_processes
  workdir = tmp_path / "killed"
  with _processes(_group(workdir), devices=2) as procs:
    deadline = time.monotonic() + TIMEOUT_S
    while not (workdir / "checkpoints" / "10").exists():
      assert all(p.poll() is None for p in procs), "the group ended before it was killed"
      assert time.monotonic() < deadline, "no checkpoint within the time limit"
      time.sleep(0.02)
    for p in procs:
      p.send_signal(signal.SIGKILL)
    assert [p.wait() for p in procs] == [-signal.SIGKILL] * 2
  assert runs.Run.open(workdir).steps()[-1] < 20
  _train_group(workdir)
  assert runs.Run.open(workdir).steps()[-1] == 20
  for x, y in zip(jax.tree.leaves(_params(reference)), jax.tree.leaves(_params(workdir))):
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


def _kill_after_first_checkpoint(procs, workdir, victim: int) -> float:
  """SIGKILLs process `victim` once checkpoint 10 exists; returns when it did."""
  deadline = time.monotonic() + TIMEOUT_S
  while not (workdir / "checkpoints" / "10").exists():
    assert all(p.poll() is None for p in procs), "the group ended before the kill"
    assert time.monotonic() < deadline, "no checkpoint within the time limit"
    time.sleep(0.02)
  procs[victim].send_signal(signal.SIGKILL)
  return time.monotonic()


def _lost_peer_line(status, err, lost: str):
  assert status == supervisor.LOST_PEER, err[-3000:]
  [line] = [l for l in err.strip().splitlines() if l.startswith("error: ")]
  assert f"lost {lost} of the group" in line, line
  assert "the last good checkpoint is step" in line and "same command" in line, line
  assert "Check failure" not in err and "Traceback" not in err and "@ " not in err


@pytest.mark.parametrize("victim", [1, 0], ids=["a process", "the coordinator"])
def test_a_lost_peer_stops_the_others_with_one_line_and_the_group_resumes_equal(
    two_processes, tmp_path, victim):
  """Process `victim` SIGKILLed after the first checkpoint: the survivor stops within
  --peer_timeout (5 s) plus a margin, names the lost process and the checkpoint, exits
  75; the whole group started again ends bitwise equal to an uninterrupted run."""
  reference, _ = two_processes
  workdir = tmp_path / "lost"
  with _processes(_group(workdir, "--peer_timeout=5"), devices=2) as procs:
    killed_at = _kill_after_first_checkpoint(procs, workdir, victim)
    [(status, _, err)] = _finish([procs[1 - victim]], timeout=60)
    stopped_after = time.monotonic() - killed_at
  _lost_peer_line(status, err, f"process {victim}")
  assert stopped_after < 5 + 15
  if victim == 0:
    assert "the coordinator" in err
    return
  _train_group(workdir, "--peer_timeout=5")
  assert runs.Run.open(workdir).steps()[-1] == 20
  for x, y in zip(jax.tree.leaves(_params(reference)), jax.tree.leaves(_params(workdir))):
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


def _errors(commands, devices=1, timeout=120):
  with _processes(commands, devices) as procs:
    return _finish(procs, timeout)


def _one_line_error(status, err, *words):
  assert status == 2, err[-2000:]
  line = [l for l in err.strip().splitlines() if l.startswith("error: ")]
  assert len(line) == 1, err[-2000:]
  for word in words:
    assert word in line[0], line[0]


def test_an_unreachable_coordinator_is_an_error_within_the_timeout(tmp_path):
  [args] = _group(tmp_path / "w", "--join_timeout=5")[1:]  # process 1 alone: no coordinator
  start = time.monotonic()
  [(status, _, err)] = _errors([args])
  _one_line_error(status, err, "could not reach the coordinator", "within 5 s")
  assert time.monotonic() - start < 90
  assert not (tmp_path / "w").exists()


def test_a_process_id_out_of_range_is_refused(tmp_path):
  [(status, _, err)] = _errors([_group(tmp_path / "w", n=2)[0][:3] + ["--process_id=2"]])
  _one_line_error(status, err, "--process_id=2 is out of range", "--num_processes=2")


def test_processes_with_different_configs_are_refused_before_writing(tmp_path):
  workdir = tmp_path / "w"
  first, second = _group(workdir)
  results = _errors([first, second + ["--config.learning_rate=0.1"]])
  for status, _, err in results:
    _one_line_error(status, err, "different configs", "process 1")
  assert not workdir.exists()


def test_a_global_batch_the_devices_do_not_divide_is_refused(tmp_path):
  results = _errors(_group(tmp_path / "w", "--config.batch_size=33"))
  for status, _, err in results:
    _one_line_error(status, err, "batch_size 33 is not divisible by the 2 devices")


@pytest.mark.slow
def test_chaos_a_group_losing_a_random_process_again_and_again_ends_equal(tmp_path):
  """Four times: a random process SIGKILLed a random moment after a new checkpoint; the
  survivor stops with status 75 each time; the group started again ends bitwise equal
  to an uninterrupted group run."""
  args = ("--config.num_train_steps=60", "--peer_timeout=5")
  reference, workdir = tmp_path / "reference", tmp_path / "chaos"
  _train_group(reference, *args)
  rng, survived = random.Random(0), []
  for _ in range(4):
    victim = rng.randrange(2)
    newest = max(runs.Run.open(workdir).steps(), default=0) if workdir.exists() else 0
    with _processes(_group(workdir, *args), devices=2) as procs:
      deadline = time.monotonic() + TIMEOUT_S
      while max(checkpoint.all_steps(workdir / "checkpoints"), default=0) <= newest:
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
        time.sleep(0.02)
      time.sleep(rng.uniform(0, 0.3))
      procs[victim].send_signal(signal.SIGKILL)
      [(status, _, err)] = _finish([procs[1 - victim]], timeout=60)
    if status == 0:  # the run ended before the kill
      break
    _lost_peer_line(status, err, f"process {victim}")
    survived.append(victim)
  print(f"losses survived: {len(survived)} (victims {survived})")
  assert len(survived) >= 3
  _train_group(workdir, *args)
  for x, y in zip(jax.tree.leaves(_params(reference)), jax.tree.leaves(_params(workdir))):
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
