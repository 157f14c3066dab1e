"""`python -m eval rf | cost | compare-models`: tables, --json, --workdir, bad input."""
import json

import pytest

from eval import __main__ as eval_main
from jcnn import models, training
from tests.helpers import eval_error, eval_json, run_program, tiny_config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  path = tmp_path_factory.mktemp("analysis_run")
  training.train_and_evaluate(tiny_config(num_train_steps=2), str(path))  # a checkpoint is enough
  return path




def test_rf_json_rows(capsys):
  out = eval_json(capsys, "rf", "--model", "lenet5", "--json")
  assert set(out) == {"layers", "total"}
  c1 = out["layers"][0]
  assert {"name", "kernel", "stride", "padding", "n", "rf", "jump", "start"} <= set(c1)
  assert (c1["name"], c1["kernel"], c1["n"], c1["rf"], c1["start"]) == (
      "LeNet5/c1", [5, 5], [28, 28], [5, 5], [2.5, 2.5])
  assert out["total"]["rf"] == [32, 32] and out["total"]["jump"] == [4, 4]


def test_rf_of_a_recorded_feature_at_another_size(capsys):
  # google-research/receptive_field: vgg_16/pool5 212, stride 32, padding 90 at any size.
  out = eval_json(capsys, "rf", "--model", "vgg16", "--feature", "pool5", "--json")
  assert out["total"]["rf"] == [212, 212] and out["total"]["effective_padding"] == [90, 90]
  out = eval_json(capsys, "rf", "--model", "resnet18", "--feature", "stage2", "--input-size",
              "64", "--json")
  assert out["total"]["n"] == [8, 8] and out["total"]["rf"] == [99, 99]


def test_rf_table(capsys):
  assert eval_main.main(["rf", "--model", "lenet5"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].split()[:3] == ["layer", "kernel", "stride"]
  assert lines[2].split() == ["LeNet5/c1", "5", "1", "1", "0", "28", "5", "1", "2.5"]
  assert lines[-1].startswith("input 32; output receptive field 32, effective stride 4")


def test_cost_json(capsys):
  out = eval_json(capsys, "cost", "--model", "lenet5", "--batch", "2", "--json", "--fit", "1")
  c1 = out["layers"][0]
  assert {"name", "params", "macs", "flops", "activation_bytes"} <= set(c1)
  assert (c1["name"], c1["params"], c1["macs"]) == ("LeNet5/c1", 156, 2 * 117_600)
  total = out["total"]
  assert total["params"] == 61_706 and total["macs"] == 2 * 416_520
  assert total["xla_flops"] == pytest.approx(total["flops"], rel=0.01)
  assert total["max_batch"]["sgd"] > total["max_batch"]["adam"] > 0


def test_cost_table_without_xla(capsys):
  assert eval_main.main(["cost", "--model", "lenet5", "--no-xla"]) == 0
  out = capsys.readouterr().out
  assert "LeNet5/f6" in out and "416.52 KMACs" in out and "XLA" not in out


def test_commands_read_a_checkpoint(workdir, capsys):
  rf = eval_json(capsys, "rf", "--workdir", str(workdir), "--json")
  assert rf["total"]["rf"] == [32, 32]
  cost = eval_json(capsys, "cost", "--workdir", str(workdir), "--json", "--no-xla")
  assert cost["total"]["params"] == 61_706


def test_compare_models_draws_the_zoo(tmp_path, capsys):
  path = tmp_path / "zoo.png"
  out = eval_json(capsys, "compare-models", "--output", str(path), "--json")
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  plotted = {p["name"]: p for p in out["plotted"]}
  assert plotted["resnet50"]["gflops"] == pytest.approx(8.18)  # 2 × torchvision's 4.09 GMACs
  assert plotted["resnet50"]["params"] == 25_557_032
  assert out["skipped"]["lenet5"] == "not an ImageNet model (10 classes)"
  for name in models.list_models():
    info = models.info(name)
    complete = info.num_classes == 1000 and None not in (info.top1, info.macs, info.num_params)
    assert (name in plotted) == complete and (name in out["skipped"]) != complete
  assert eval_main.main(["compare-models", "--output", str(path), "--models", "vgg1*"]) == 0
  text = capsys.readouterr().out
  assert text.startswith("drew ") and "vgg16" in text


def test_cli_prints_exactly_one_json_object():
  proc = run_program("eval", "cost", "--model", "lenet5", "--json")
  assert proc.returncode == 0, proc.stderr
  assert json.loads(proc.stdout)["total"]["params"] == 61_706


@pytest.mark.parametrize("argv,message", [
    (["rf"], "give exactly one of --model NAME and --workdir DIR"),
    (["rf", "--model", "lenet5", "--workdir", "x"], "give exactly one of"),
    (["rf", "--model", "lenet5", "--feature", "pool9"], "no recorded feature 'pool9'; recorded: "),
    (["cost", "--model", "lenet6"], "unknown model 'lenet6'"),
    (["cost", "--model", "lenet5", "--batch", "0"], "--batch must be positive, got 0"),
    (["rf", "--model", "lenet5", "--input-size", "28"], "lenet5 expects inputs"),
    (["compare-models", "--output", "zoo.jpg"], "--output must be a .png file"),
])
def test_bad_input_is_one_error_line(capsys, argv, message):
  assert message in eval_error(capsys, *argv)
