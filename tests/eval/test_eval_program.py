"""`python -m eval`: evaluate, --json, --step, --watch, predict, and bad input."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from eval import __main__ as eval_main
from jcnn import checkpoint, runs, training
from tests.helpers import eval_error, eval_json, run_program, tiny_config, write_png_bomb


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("eval_run")
  results = training.train_and_evaluate(tiny_config(ema_decay=0.9), str(workdir))
  return workdir, results



def test_json_reports_what_training_measured(run, capsys):
  workdir, results = run
  out = eval_json(capsys, "--workdir", str(workdir), "--json")
  assert set(out) == {"top1", "top5", "loss", "step", "num_examples"}
  assert out["step"] == 42 and out["num_examples"] == 450
  assert out["top1"] == pytest.approx(results["top1"])
  assert out["loss"] == pytest.approx(results["loss"], rel=1e-5)


def test_cli_json_prints_exactly_one_object(run):
  workdir, results = run
  proc = run_program("eval", "--workdir", str(workdir), "--json", "--step", "21")
  assert proc.returncode == 0, proc.stderr
  out = json.loads(proc.stdout)  # fails on any extra output
  assert out["step"] == 21


def test_human_readable_report(run, capsys):
  workdir, _ = run
  assert eval_main.main(["evaluate", "--workdir", str(workdir), "--split", "train"]) == 0
  out = capsys.readouterr().out
  assert out.startswith("step 42: top-1 ") and "(1347 examples)" in out


def test_watch_evaluates_each_checkpoint_once(run, capsys):
  workdir, _ = run
  assert eval_main.main(["--workdir", str(workdir), "--watch", "--json", "--interval", "0.1",
                         "--timeout", "0.5"]) == 0
  lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
  assert [l["step"] for l in lines] == [21, 42]


def test_predict_classifies_real_digits(run, tmp_path, capsys):
  from jcnn import data
  workdir, _ = run
  test = data.load("digits", "test")
  paths = []
  for i in range(10):
    path = tmp_path / f"digit{i}.png"
    Image.fromarray(test.images[i, :, :, 0]).save(path)
    paths.append(str(path))
  out = eval_json(capsys, "predict", "--workdir", str(workdir), "--json", *paths)
  predicted = [p["top"][0]["label"] for p in out["predictions"]]
  assert len(out["predictions"]) == 10 and len(out["predictions"][0]["top"]) == 5
  assert np.mean(np.array(predicted) == test.labels[:10]) >= 0.7
  assert sum(t["prob"] for t in out["predictions"][0]["top"]) <= 1.0 + 1e-6



def test_missing_step_names_the_available_ones(run, capsys):
  workdir, _ = run
  assert "no checkpoint at step 5" in eval_error(capsys, "--workdir", str(workdir), "--step", "5")


def test_workdir_without_a_run(tmp_path, capsys):
  assert "does not exist" in eval_error(capsys, "--workdir", str(tmp_path / "nothing"))
  assert "not a jcnn training run" in eval_error(capsys, "--workdir", str(tmp_path))


def test_unreadable_image(run, tmp_path, capsys):
  workdir, _ = run
  bad = tmp_path / "bad.png"
  bad.write_bytes(b"not a png")
  assert "cannot read image" in eval_error(capsys, "predict", "--workdir", str(workdir), str(bad))
  bomb = write_png_bomb(tmp_path / "bomb.png")
  err = eval_error(capsys, "predict", "--workdir", str(workdir), str(bomb))
  assert err.startswith(f"error: cannot read image {bomb}: Image size (400000000 pixels) "
                        "exceeds limit") and "decompression bomb" in err


def test_corrupt_latest_checkpoint_is_moved_aside_and_the_previous_used(run, tmp_path, capsys):
  workdir, results = run
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  files = [p for p in (copy / "checkpoints" / "42").rglob("*")
           if p.is_file() and p.stat().st_size > 1000]
  for path in files:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
  assert "truncated or corrupt" in eval_error(capsys, "--workdir", str(copy))
  assert runs.Run.open(copy).steps() == [21, 42]  # eval never moves or deletes
  # Training moves it aside (not deleted), resumes from step 21 and trains 42 again.
  with pytest.warns(UserWarning, match=r"checkpoints/42 is truncated or corrupt.*moved it to "
                    r".*corrupt/42 and resumed from step 21"):
    again = training.train_and_evaluate(tiny_config(ema_decay=0.9), str(copy))
  assert again["step"] == 42 and runs.Run.open(copy).steps() == [21, 42]
  moved = copy / "corrupt" / "42"
  assert all((moved / p.relative_to(copy / "checkpoints" / "42")).exists() for p in files)
  assert again["top1"] == pytest.approx(results["top1"])  # bitwise resume: the same run


def test_no_readable_checkpoint_stops_training_and_moves_nothing(run, tmp_path):
  workdir, _ = run
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  for path in (copy / "checkpoints").rglob("*"):
    if path.is_file() and path.stat().st_size > 1000:
      path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
  with pytest.raises(checkpoint.CheckpointError, match="no readable checkpoint .* steps 42, 21"):
    training.train_and_evaluate(tiny_config(ema_decay=0.9), str(copy))
  assert runs.Run.open(copy).steps() == [21, 42] and not (copy / "corrupt").exists()
