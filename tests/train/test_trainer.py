"""The training loop end to end on the embedded digits, in-process."""
import json

import pytest

from jcnn import checkpoint, runs
from tests.helpers import tiny_config
from train import trainer


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("run")
  results = trainer.train_and_evaluate(tiny_config(), str(workdir))
  return workdir, results


def test_writes_checkpoints_logs_and_config(tiny_run):
  workdir, results = tiny_run
  # 1,347 training digits, batch 64: 21 steps per epoch, 2 epochs, a checkpoint each.
  assert results["step"] == 42
  assert results["num_examples"] == 450
  assert checkpoint.all_steps(workdir) == [21, 42]
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
  again = trainer.train_and_evaluate(tiny_config(), str(workdir))
  assert again["step"] == 42
  assert again["top1"] == pytest.approx(results["top1"])


def test_longer_run_continues_from_the_checkpoint(tiny_run, tmp_path):
  import shutil
  workdir, _ = tiny_run
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  more = trainer.train_and_evaluate(tiny_config(num_epochs=3), str(copy))
  assert more["step"] == 63
  assert checkpoint.all_steps(copy) == [21, 42, 63]


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
    trainer.train_and_evaluate(tiny_config(**fields), str(tmp_path / "run"))


def test_workdir_that_is_a_file_is_rejected(tmp_path):
  path = tmp_path / "file"
  path.write_text("precious")
  with pytest.raises(ValueError, match="is not a folder"):
    trainer.train_and_evaluate(tiny_config(), str(path))
  assert path.read_text() == "precious"


def test_workdir_of_another_run_is_not_overwritten(tiny_run, tmp_path):
  import shutil
  workdir, _ = tiny_run
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  with pytest.raises(ValueError, match="holds a run with model='lenet5', not 'lenet_tf'"):
    trainer.train_and_evaluate(tiny_config(model="lenet_tf", resize=28), str(copy))
  assert checkpoint.all_steps(copy) == [21, 42]
