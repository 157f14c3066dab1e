"""`python -m eval viz` on a small VGG trained briefly on real digits."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from eval import __main__ as eval_main
from jcnn import data, runs, training
from tests.helpers import eval_error, eval_json, tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("viz") / "run"
  training.train_and_evaluate(tiny_config(model="small_vgg", num_epochs=3, keep_checkpoints=3),
                             str(workdir))
  return workdir


def snapshot(folder) -> dict:
  return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
          for d, _, files in os.walk(folder) for f in files}


@pytest.mark.parametrize("kind, extra, files", [
    ("filters", [], ["filters.png"]),
    ("deconv", ["--top", "3", "--layer", "relu2"], ["deconv_test_0.png",
                                                    "maps_test_0_relu2.png"]),
    ("top9", ["--layer", "relu2", "--channels", "0,5", "--num-images", "60"],
     ["top9_relu2.png"]),
    ("occlusion", ["--index", "4", "--stride", "4"], ["occlusion_test_4.png"]),
    ("saliency", ["--num-images", "2"], ["saliency.png"]),
    ("invariance", ["--num-images", "2"], ["invariance.png"]),
])
def test_each_kind_draws_its_figure(run, tmp_path, capsys, kind, extra, files):
  before = snapshot(run)
  out = eval_json(capsys, "viz", kind, "--workdir", str(run), "--output", str(tmp_path), "--json",
                  *extra)
  assert out["kind"] == kind and out["step"] == runs.Run.open(run).steps()[-1]
  assert sorted(os.path.basename(f) for f in out["files"]) == files
  for f in out["files"]:
    with Image.open(f) as image:
      assert image.width > 20 and image.height > 20
  assert snapshot(run) == before            # eval never writes the run
  if kind == "top9":
    assert [c["channel"] for c in out["channels"]] == [0, 5]
    assert out["recompute_max_error"] < 1e-5 and out["num_images"] == 60
    assert all(len(c["values"]) == 9 for c in out["channels"])
  if kind == "occlusion":
    maps = out["maps"]["test_4"]
    assert np.asarray(maps["true_prob"]).shape == (7, 7)   # (32 - 8) / 4 + 1 positions
  if kind == "invariance":
    assert set(out["curves"]) == {"translation", "scale", "rotation"}
    assert set(out["curves"]["scale"]["distance"]) == {"relu1", "relu4"}


def test_evolution_reads_every_checkpoint(run, tmp_path, capsys):
  out = eval_json(capsys, "viz", "evolution", "--workdir", str(run), "--output", str(tmp_path),
                  "--layer", "relu1", "--channels", "1,2", "--num-images", "40", "--json")
  steps = runs.Run.open(run).steps()
  assert len(steps) == 3 and out["steps"] == steps
  values = np.asarray(out["layers"]["relu1"]["values"])
  assert values.shape == (2, 3) and np.all(values > 0)
  assert len(set(values[0])) == 3           # the weights differ at each checkpoint


def test_an_image_file_of_another_size_is_resized_with_a_note(run, tmp_path, capsys):
  split = data.load("digits", "test")
  path = tmp_path / "digit.png"
  Image.fromarray(np.kron(split.images[0, ..., 0], np.ones((5, 5), np.uint8))).save(path)
  assert eval_main.main(["viz", "saliency", "--workdir", str(run), "--images", str(path),
                         "--output", str(tmp_path / "out"), "--json"]) == 0
  captured = capsys.readouterr()
  assert json.loads(captured.out)["files"][0].endswith("saliency.png")
  assert f"note: {path}: resized from 40x40 to 32x32, the training size" in captured.err


def test_bad_requests_name_the_problem(run, tmp_path, capsys):
  args = ["--workdir", str(run), "--output", str(tmp_path)]
  assert "unknown layer 'conv9'" in eval_error(capsys, "viz", "top9", "--layer", "conv9", *args)
  assert "relu1, relu2, relu3, relu4" in eval_error(capsys, "viz", "deconv", "--layer", "x",
                                                    *args)
  assert "channel 99 out of range: layer relu1 has 16 channels" in eval_error(
      capsys, "viz", "top9", "--layer", "relu1", "--channels", "3,99", "--num-images", "20",
      *args)
  assert "inside the run folder" in eval_error(capsys, "viz", "filters", "--workdir", str(run),
                                               "--output", str(run / "pictures"))
  assert "image index 5000 out of range" in eval_error(capsys, "viz", "saliency", "--index",
                                                       "5000", *args)
  assert eval_error(capsys, "viz", "deconvolution", *args).endswith(
      "invalid choice: 'deconvolution' (choose from 'deconv', 'evolution', 'filters', "
      "'invariance', 'occlusion', 'saliency', 'top9'); did you mean deconv?")
  one = tmp_path / "one"
  shutil.copytree(run, one)
  for step in runs.Run.open(one).steps()[:-1]:
    shutil.rmtree(one / "checkpoints" / str(step))
  assert "has 1 checkpoint" in eval_error(capsys, "viz", "evolution", "--workdir", str(one),
                                          "--output", str(tmp_path))


def test_probe_fits_a_softmax_on_frozen_features_beside_random_and_scratch(run, capsys):
  out = eval_json(capsys, "probe", "--workdir", str(run), "--dataset", "digits",
                  "--train-examples", "100", "--epochs", "2", "--json")
  assert out["train_examples"] == 100 and out["test_examples"] == 450 and out["classes"] == 10
  methods = [r["method"] for r in out["rows"]]
  assert methods[0].startswith("frozen relu4 (step ") and methods[1].startswith("random-init")
  assert methods[2] == "from scratch, all layers, 2 epochs"
  frozen, random_init, scratch = (r["top1"] for r in out["rows"])
  # Features trained on these digits separate them better than random ones (which
  # are strong: 88 % here) and than 2 epochs from scratch on 100 images.
  assert frozen > 0.9 and frozen > random_init and frozen > scratch + 0.2


def test_probe_bad_input(run, capsys):
  args = ["probe", "--workdir", str(run), "--no-scratch"]
  assert "--train_examples must be >= 2" in eval_error(capsys, *args, "--dataset", "digits",
                                                       "--train-examples", "1")
  assert "unknown layer 'fc'" in eval_error(capsys, *args, "--dataset", "digits",
                                            "--layer", "fc")
