"""The training loop end to end on the embedded digits, in-process."""
import json

import pytest

from jcnn import runs, training
from jcnn.training import train_log
from tests.helpers import tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("run")
  results = training.train_and_evaluate(tiny_config(), str(workdir))
  return workdir, results


def test_writes_checkpoints_logs_and_config(tiny_run):
  workdir, results = tiny_run
  # 1,347 training digits, batch 64: 21 steps per epoch, 2 epochs, a checkpoint each.
  assert results["step"] == 42
  assert results["num_examples"] == 450
  assert runs.Run.open(workdir).steps() == [21, 42]
  assert json.loads((workdir / "config.json").read_text())["model"] == "lenet5"
  info = json.loads((workdir / "dataset.json").read_text())
  assert info["image_shape"] == [32, 32, 1] and len(info["class_names"]) == 10
  records = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert {r["split"] for r in records} == {"compile", "train", "eval", "done"}
  assert [r for r in records if r["split"] == "done"] == [
      {"step": 42, "split": "done", "total_steps": 42}]
  assert runs.Run.open(workdir).finished
  [compile_record] = [r for r in records if r["split"] == "compile"]
  assert compile_record["step"] == 1
  assert 0 < compile_record["compile_s"] < compile_record["first_step_s"]
  assert [r["step"] for r in records if r["split"] == "eval"] == [21, 42]
  assert all({"loss", "top1", "img_per_s", "learning_rate"} <= r.keys()
             for r in records if r["split"] == "train")
  assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))


def test_learns_in_two_epochs(tiny_run):
  _, results = tiny_run
  assert results["top1"] > 0.8  # chance is 0.1
  assert results["top5"] >= results["top1"]


def test_rerun_after_the_end_resumes_and_trains_nothing(tiny_run):
  workdir, results = tiny_run
  again = training.train_and_evaluate(tiny_config(), str(workdir))
  assert again["step"] == 42
  assert again["top1"] == pytest.approx(results["top1"])


def test_longer_run_continues_from_the_checkpoint(tiny_run, tmp_path):
  import shutil
  workdir, _ = tiny_run
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  more = training.train_and_evaluate(tiny_config(num_epochs=3), str(copy))
  assert more["step"] == 63
  assert runs.Run.open(copy).steps() == [21, 42, 63]


@pytest.mark.parametrize("fields, message", [
    (dict(model="resnet9000"), "unknown model 'resnet9000'"),
    (dict(optimizer="adagrad"), "unknown optimizer 'adagrad'"),
    (dict(schedule="linear"), "unknown schedule 'linear'"),
    (dict(batch_size=0), "config.batch_size=0 must be positive"),
    (dict(ema_decay=1.0), r"config.ema_decay=1.0 must be in \[0, 1\)"),
    (dict(dataset="not_a_dataset"), "not_a_dataset"),
])
def test_bad_configs_are_rejected(tmp_path, fields, message):
  with pytest.raises(ValueError, match=message):
    training.train_and_evaluate(tiny_config(**fields), str(tmp_path / "run"))


def test_workdir_that_is_a_file_is_rejected(tmp_path):
  path = tmp_path / "file"
  path.write_text("precious")
  with pytest.raises(ValueError, match="is not a folder"):
    training.train_and_evaluate(tiny_config(), str(path))
  assert path.read_text() == "precious"


def test_workdir_of_another_run_is_not_overwritten(tiny_run, tmp_path):
  import shutil
  workdir, _ = tiny_run
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  with pytest.raises(ValueError, match="holds a run with model='lenet5', not 'lenet_tf'"):
    training.train_and_evaluate(tiny_config(model="lenet_tf", resize=28), str(copy))
  assert runs.Run.open(copy).steps() == [21, 42]


def test_train_records_average_the_window_and_keep_the_current_rate():
  import jax.numpy as jnp
  import tqdm

  class Log:
    records = []

    def log(self, step, split, values):
      self.records.append((step, split, values))

  run, bar = Log(), tqdm.tqdm(disable=True)
  log = train_log.TrainLog(run, bar, batch_size=32, progress=("loss",))
  guard = {"skipped": jnp.asarray(0)}
  steps = [{"loss": 4.0, "top1": 0.25, "learning_rate": 0.1},
           {"loss": 2.0, "top1": 0.5, "learning_rate": 0.2},
           {"loss": 0.0, "top1": 0.75, "learning_rate": 0.3}]
  for step, values in enumerate(steps, start=1):
    log.stepped(step, step == 1, None if step > 1 else _NoTimer(),
                {k: jnp.asarray(v) for k, v in values.items()})
  log.train(3, guard)
  step, split, values = run.records[-1]
  assert (step, split) == (3, "train")
  assert values["loss"] == pytest.approx(2.0) and values["top1"] == pytest.approx(0.5)
  assert values["learning_rate"] == pytest.approx(0.3)
  log.stepped(4, False, None, {k: jnp.asarray(v) for k, v in steps[0].items()})
  log.train(4, guard)  # a new window: only step 4
  assert run.records[-1][2]["loss"] == pytest.approx(4.0)


class _NoTimer:
  seconds = 0.0
