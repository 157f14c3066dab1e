"""`python -m eval detect` and `predict` on detection runs: arguments, refusals, reports.

The refusals come before a checkpoint is restored, so the runs here are folders with a
config (and dataset info) only. Tests on a trained detection run use the same helpers.
"""
import json

import pytest

from eval import __main__ as eval_main
from eval.commands import detect
from jcnn import runs, tasks
from tests.helpers import eval_error, write_png_bomb

INFO = {"class_names": ["zero", "one"], "channels": 1, "mean": [0.1], "std": [0.3],
        "min_size": 128, "max_size": 128, "image_shape": [128, 128, 1]}




def _run_folder(path, config: dict, info: dict | None = None):
  path.mkdir()
  runs.save_json(path / runs.CONFIG_FILE, config)
  if info is not None:
    runs.save_json(path / runs.DATASET_FILE, info)
  return path


@pytest.fixture
def classification_run(tmp_path):
  config = json.loads(tasks.default_config("classification").to_json())
  return _run_folder(tmp_path / "lenet", config)


@pytest.fixture
def detection_folder(tmp_path):
  """A detection run's config and dataset info, without checkpoints."""
  return _run_folder(tmp_path / "frcnn", {"task": "detection"}, INFO)


def test_detect_refuses_a_classification_run(classification_run, capsys):
  err = eval_error(capsys, "detect", "--workdir", str(classification_run))
  assert err == (f"error: {classification_run} is a classification run; eval detect needs "
                 "a detection, rcnn or sppnet run")


def test_detect_names_a_missing_run(tmp_path, capsys):
  assert "does not exist" in eval_error(capsys, "detect", "--workdir", str(tmp_path / "nothing"))


def test_detect_is_a_command_with_its_options(capsys):
  with pytest.raises(SystemExit) as exit_:
    eval_main.main(["detect", "--help"])
  assert exit_.value.code == 0
  out = capsys.readouterr().out
  for option in ("--workdir", "--step", "--split", "--data", "--json"):
    assert option in out


def test_predict_on_a_detection_run_refuses_an_unreadable_image(detection_folder, tmp_path,
                                                                capsys):
  bad = tmp_path / "bad.png"
  bad.write_bytes(b"not a png")
  err = eval_error(capsys, "predict", "--workdir", str(detection_folder), "--output",
               str(tmp_path / "out"), str(bad))
  assert err == f"error: cannot read image {bad}: cannot identify image file '{bad}'"
  bomb = write_png_bomb(tmp_path / "bomb.png")
  err = eval_error(capsys, "predict", "--workdir", str(detection_folder), "--output",
                   str(tmp_path / "out"), str(bomb))
  assert err.startswith(f"error: cannot read image {bomb}:") and "decompression bomb" in err


def test_predict_never_writes_into_the_run(detection_folder, tmp_path, capsys):
  image = tmp_path / "a.png"
  err = eval_error(capsys, "predict", "--workdir", str(detection_folder), "--output",
               str(detection_folder / "pictures"), str(image))
  assert "is inside the run folder" in err and "eval never writes runs" in err
  err = eval_error(capsys, "predict", "--workdir", str(detection_folder), "--output",
               str(tmp_path / "out"), str(tmp_path / "x" / "a.png"), str(image))
  assert "would both be drawn to" in err
  assert eval_error(capsys, "predict", "--workdir", str(detection_folder), "--output",
                    str(tmp_path / "boxes.csv"), str(image)) == (
      f"error: --output {tmp_path / 'boxes.csv'}: a detection run draws into a folder; "
      "results files are for classification runs (use --json for the boxes)")


def test_the_text_report_is_a_table_per_class_then_coco():
  report = {"map50": 0.75, "map50_11pt": 0.7, "coco_ap": 0.5, "coco_ap50": 0.75,
            "coco_ap75": 0.5, "coco_ap_small": 0.4, "coco_ap_medium": 0.6,
            "coco_ap_large": -1.0, "num_images": 7, "step": 300, "split": "test",
            "per_class": {"zero": {"ap50": 1.0, "ap50_11pt": 1.0},
                          "one": {"ap50": 0.5, "ap50_11pt": 0.4},
                          "seven": {"ap50": None, "ap50_11pt": None}}}
  lines = detect.format_report(report).splitlines()
  assert lines[0] == "step 300, test: 7 images"
  assert lines[1].split() == ["class", "AP", "(area)", "AP", "(11-pt)"]
  assert lines[2].split() == ["zero", "1.0000", "1.0000"]
  assert lines[4].split() == ["seven", "-", "-"]
  assert lines[5].split() == ["mean", "0.7500", "0.7000"]
  assert lines[6].split() == ["COCO", "AP", "0.5000", "AP50", "0.7500", "AP75", "0.5000",
                              "APs", "0.4000", "APm", "0.6000", "APl", "-"]
