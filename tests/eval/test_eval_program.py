"""`python -m eval`: its commands and flags, evaluate, --json, --step, --watch, predict,
and bad input."""
import csv
import importlib
import json
import pkgutil
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from eval import __main__ as eval_main
from eval import commands
from jcnn import checkpoint, runs, training
from tests.helpers import REPO, eval_error, eval_json, run_program, tiny_config, write_png_bomb


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("eval_run")
  results = training.train_and_evaluate(tiny_config(ema_decay=0.9), str(workdir))
  return workdir, results


def test_every_command_module_is_registered_and_every_command_has_a_module():
  modules = {m.name.replace("_", "-") for m in pkgutil.iter_modules(commands.__path__)}
  assert set(eval_main.COMMANDS) == modules


def test_help_lists_every_command_without_importing_jax_or_jcnn():
  help_ = run_program("eval", "--help")
  assert help_.returncode == 0 and help_.stderr == ""
  shown = "".join(help_.stdout.split())  # argparse wraps the summaries
  for name in eval_main.COMMANDS:
    module = importlib.import_module(f"eval.commands.{name.replace('-', '_')}")
    assert f"    {name}" in help_.stdout
    assert "".join(module.__doc__.splitlines()[0].split()) in shown
  loaded = subprocess.run(
      [sys.executable, "-c", "import sys\nfrom eval import __main__ as m\ntry:\n  "
       "m.main(['--help'])\nexcept SystemExit as e:\n  assert e.code == 0\n"
       "print(sorted({n.split('.')[0] for n in sys.modules} & {'jax', 'jcnn', 'numpy'}))"],
      cwd=REPO, capture_output=True, text=True, check=True)
  assert loaded.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv, line", [
    (["evalute", "--workdir", "runs/x"], "unknown command 'evalute'; did you mean evaluate? "
     f"(commands: {', '.join(eval_main.COMMANDS)})"),
    (["--workdri", "runs/x"],
     "python -m eval evaluate: unknown flag --workdri; did you mean --workdir?"),
    (["predict", "--workdir", "runs/x", "--top_kk", "3", "a.png"],
     "python -m eval predict: unknown flag --top_kk; did you mean --top_k?"),
    (["evaluate", "--json"],
     "python -m eval evaluate: the following arguments are required: --workdir"),
    (["--workdir", "runs/x", "--step", "last"],
     "python -m eval evaluate: argument --step: invalid int value: 'last'"),
    (["models", "lenet*", "vgg*"], "python -m eval models: unrecognized arguments: vgg*"),
])
def test_a_flag_mistake_is_one_line_and_status_2(capsys, argv, line):
  assert eval_error(capsys, *argv) == f"error: {line}"


def test_a_flag_has_one_spelling_and_the_hyphenated_one_works_too(capsys):
  documented = eval_main.parse(["predict", "--workdir", "w", "--top_k", "3", "a.png",
                                "--score_threshold=0.2"])[1]
  old = eval_main.parse(["predict", "--workdir", "w", "--top-k", "3", "a.png",
                         "--score-threshold=0.2"])[1]
  assert documented == old and (old.top_k, old.score_threshold) == (3, 0.2)
  group = eval_main.parse(["--workdir", "w", "--num-processes", "2", "--process-id=1",
                           "--join_timeout", "5", "--coordinator", "h:1"])[1]
  assert (group.num_processes, group.process_id, group.join_timeout) == (2, 1, 5)
  with pytest.raises(SystemExit):
    eval_main.main(["evaluate", "--help"])
  shown = capsys.readouterr().out
  assert "--num_processes" in shown and "--num-processes" not in shown  # as train spells it


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



def test_predict_over_a_folder_writes_one_row_per_image(run, tmp_path, capsys):
  from jcnn import data
  workdir, _ = run
  test = data.load("digits", "test")
  folder = tmp_path / "digits"
  (folder / "more" / "deeper").mkdir(parents=True)
  (folder / ".hidden").mkdir()
  files = [folder / "a.png", folder / "more" / "b.png", folder / "more" / "deeper" / "c.png"]
  for i, path in enumerate([*files, folder / ".hidden" / "d.png", folder / ".e.png"]):
    Image.fromarray(test.images[i, :, :, 0]).save(path)
  (folder / "notes.txt").write_text("not an image")
  listed = eval_json(capsys, "predict", "--workdir", str(workdir), "--json", "--top_k", "3",
                     *map(str, files))["predictions"]
  # The folder: every image below it, sorted, hidden ones and other files left out.
  assert eval_main.main(["predict", "--workdir", str(workdir), str(folder), "--top_k", "3",
                         "--output", str(tmp_path / "out" / "results.csv")]) == 0
  assert capsys.readouterr().out == f"3 images -> {tmp_path / 'out' / 'results.csv'}\n"
  with open(tmp_path / "out" / "results.csv", newline="") as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["file", "class_1", "label_1", "prob_1", "class_2", "label_2", "prob_2",
                     "class_3", "label_3", "prob_3"]
  assert [r[0] for r in rows[1:]] == [str(p) for p in files]
  for row, expected in zip(rows[1:], listed):
    assert row[1:4] == [expected["top"][0]["class"], str(expected["top"][0]["label"]),
                        f"{expected['top'][0]['prob']:.6g}"]
  assert eval_main.main(["predict", "--workdir", str(workdir), str(folder), "--top_k", "3",
                         "--output", str(tmp_path / "results.json"), "--json"]) == 0
  assert json.loads(capsys.readouterr().out)["predictions"] == listed
  assert json.loads((tmp_path / "results.json").read_text()) == listed


def test_predict_refuses_a_results_file_it_cannot_write(run, tmp_path, capsys):
  workdir, _ = run
  (tmp_path / "empty").mkdir()
  predict = ["predict", "--workdir", str(workdir)]
  assert eval_error(capsys, *predict, str(tmp_path / "empty")).startswith(
      f"error: no images (.bmp, .gif, .jpeg, .jpg, .pgm, .png, .ppm, .tif, .tiff, .webp) in "
      f"folder {tmp_path / 'empty'}")
  image = tmp_path / "one.png"
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
  assert eval_error(capsys, *predict, str(image), "--output", "results.txt") == (
      "error: --output results.txt: a classification run writes its results to a .csv or "
      ".json file")
  assert "inside the run folder" in eval_error(capsys, *predict, str(image), "--output",
                                               str(workdir / "results.csv"))
  assert not (workdir / "results.csv").exists()


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
