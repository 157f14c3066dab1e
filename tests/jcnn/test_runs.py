"""The run folder: one writer at a time, readers that never write, a strict metrics log."""
import errno
import json
import os
import subprocess
import sys

import jax
import pytest

from jcnn import runs, tasks
from tests.helpers import REPO, tiny_config


def _strict(line: str):
  def refuse(constant):
    raise ValueError(f"non-standard JSON constant {constant}")
  return json.loads(line, parse_constant=refuse)


def test_second_writer_is_refused_with_the_holders_pid(tmp_path):
  with runs.Run.create(tmp_path, tiny_config()):
    with pytest.raises(runs.RunInUse, match=rf"in use by pid {os.getpid()} on "):
      runs.Run.create(tmp_path, tiny_config())
  runs.Run.create(tmp_path, tiny_config()).close()  # released on close


def test_lock_of_a_killed_process_does_not_block(tmp_path):
  # A process takes the lock and dies by SIGKILL: the kernel releases its flock; the
  # pid it wrote stays in the file.
  code = ("import sys, os, signal; from jcnn import runs; from tests.helpers import tiny_config;"
          "runs.Run.create(sys.argv[1], tiny_config()); os.kill(os.getpid(), signal.SIGKILL)")
  proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO,
                        capture_output=True, text=True)
  assert proc.returncode == -9, proc.stderr[-2000:]
  assert (tmp_path / runs.LOCK_FILE).read_text().startswith("pid ")
  runs.Run.create(tmp_path, tiny_config()).close()


def test_a_file_is_not_a_workdir(tmp_path):
  path = tmp_path / "file"
  path.write_text("precious")
  with pytest.raises(ValueError, match="exists and is not a folder"):
    runs.Run.create(path, tiny_config())
  assert path.read_text() == "precious"


def test_reader_never_locks_or_writes(tmp_path):
  with runs.Run.create(tmp_path, tiny_config()) as writer:
    writer.save_dataset_info({"image_shape": [32, 32, 1]})
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    reader = runs.Run.open(tmp_path)  # while the writer holds the lock
    assert reader.config.model == "lenet5" and reader.dataset_info["image_shape"] == [32, 32, 1]
    assert reader.records() == [] and reader.steps() == []
    with pytest.raises(PermissionError, match="read-only"):
      reader.log(1, "train", {"loss": 1.0})
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_metrics_log_is_strict_json_with_null_for_non_finite_values(tmp_path):
  with runs.Run.create(tmp_path, tiny_config()) as run:
    run.log(1, "train", {"loss": float("nan"), "top1": 0.5})
    run.log(2, "train", {"loss": float("inf"), "top1": 0.25})
    run.log(2, "eval", {"loss": 2.0})
    run.log(3, "train", {"loss": 1.5})
    lines = (tmp_path / runs.METRICS_FILE).read_text().splitlines()
    assert [_strict(line) for line in lines][:2] == [
        {"step": 1, "split": "train", "loss": None, "top1": 0.5},
        {"step": 2, "split": "train", "loss": None, "top1": 0.25}]
    run.truncate_log(2)  # what a run resumed from step 2 logs again is dropped
  reader = runs.Run.open(tmp_path)
  assert [r["step"] for r in reader.records()] == [1, 2, 2]
  assert reader.records("eval") == [{"step": 2, "split": "eval", "loss": 2.0}]


@pytest.mark.parametrize("field, value, message", [
    ("model", "lenet_tf", "model='lenet5', not 'lenet_tf'"),
    # The seed decides the data order and the key stream: another seed is another run.
    ("seed", 1, "seed=0, not 1"),
])
def test_a_folder_holding_another_run_is_refused(tmp_path, field, value, message):
  with runs.Run.create(tmp_path, tiny_config()):
    pass
  # A run only counts as one once it has checkpoints.
  (tmp_path / runs.CHECKPOINTS_DIR / "5").mkdir(parents=True)
  config = tiny_config(**{field: value})
  with pytest.raises(ValueError, match=f"holds a run with {message}"):
    runs.Run.create(tmp_path, config, tasks.identity(config))
  assert runs.Run.open(tmp_path).config[field] == tiny_config()[field]


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: p, "is not a jcnn training run"),
])
def test_open_names_what_is_missing(tmp_path, make, message):
  with pytest.raises(FileNotFoundError, match=message):
    runs.Run.open(make(tmp_path))


def test_unknown_task_and_foreign_fields_are_named():
  config = tiny_config()
  config.task = "segmentation"
  with pytest.raises(ValueError, match="unknown task 'segmentation'; choose from classification"):
    tasks.validate(config)
  config = tasks.default_config("classification")
  config.unlock()
  config.anchor_sizes = (32, 64)
  with pytest.raises(ValueError, match="config.anchor_sizes is not a known field, not of task "
                                       "'classification'"):
    tasks.validate(config)


@pytest.mark.parametrize("error", [
    OSError(errno.EIO, "Input/output error"),
    PermissionError(errno.EACCES, "Permission denied"),
    MemoryError("out of memory while reading"),
    ValueError("UNAVAILABLE: Error reading local file (tensorstore, an NFS hiccup)"),
])
def test_a_read_error_that_may_pass_moves_no_checkpoint(tmp_path, monkeypatch, error):
  import optax
  import orbax.checkpoint as ocp
  from jcnn import checkpoint, models
  from jcnn import state as state_lib
  state = state_lib.create(models.create("lenet5"), optax.sgd(0.1),
                           rng=jax.random.PRNGKey(0), input_shape=(32, 32, 1))
  with runs.Run.create(tmp_path, tiny_config()) as run:
    run.save(state.replace(step=1))
    run.save(state.replace(step=2))

  restore = ocp.CheckpointManager.restore

  def flaky(self, step, *args, **kwargs):  # the newest fails to read, the older would not
    if step == 2:
      raise error
    return restore(self, step, *args, **kwargs)

  # Taken for damage, the error would move step 2 to corrupt/ and resume from step 1.
  monkeypatch.setattr(ocp.CheckpointManager, "restore", flaky)
  with runs.Run.create(tmp_path, tiny_config()) as run:
    with pytest.raises(checkpoint.CheckpointReadError, match="checkpoints/2 .* run the same"):
      run.resume(state)
  assert runs.Run.open(tmp_path).steps() == [1, 2]
  assert not (tmp_path / runs.CORRUPT_DIR).exists()


def test_a_save_cut_short_leaves_a_folder_that_resuming_removes_with_a_warning(tmp_path):
  """A process killed (or a disk filled) inside orbax's atomic save leaves
  `<step>.orbax-checkpoint-tmp-*`; the next writer says so and removes it."""
  import optax
  from jcnn import models
  from jcnn import state as state_lib
  state = state_lib.create(models.create("lenet5"), optax.sgd(0.1),
                           rng=jax.random.PRNGKey(0), input_shape=(32, 32, 1))
  with runs.Run.create(tmp_path, tiny_config()) as run:
    run.save(state.replace(step=1))
  leftover = tmp_path / runs.CHECKPOINTS_DIR / "2.orbax-checkpoint-tmp-1765000000"
  (leftover / "model").mkdir(parents=True)
  with runs.Run.create(tmp_path, tiny_config()) as run:
    with pytest.warns(UserWarning, match=f"removing {leftover}, a checkpoint whose save "
                                         "never finished"):
      restored = run.resume(state)
  assert int(restored.step) == 1 and not leftover.exists()
  assert runs.Run.open(tmp_path).steps() == [1]
