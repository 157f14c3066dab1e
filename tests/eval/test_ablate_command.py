"""`python -m eval ablate` on a real (short) digits run: its rows, its notes, bad input."""
import numpy as np
import pytest

from jcnn import training
from tests.helpers import eval_error, eval_json, tiny_config


@pytest.fixture(scope="module")
def vgg_run(tmp_path_factory):
  """small_vgg (GAP head, conv3_2 keeps its shape) with an EMA, 1 epoch of digits."""
  workdir = tmp_path_factory.mktemp("ablate") / "run"
  training.train_and_evaluate(
      tiny_config(model="small_vgg", num_epochs=1, ema_decay=0.9, crop_padding=2),
      str(workdir))
  return workdir


def test_ablate_prints_one_row_per_change_and_names_what_the_model_lacks(vgg_run, capsys):
  files = sorted(p.relative_to(vgg_run) for p in vgg_run.rglob("*"))
  out = eval_json(capsys, "ablate", "--workdir", str(vgg_run), "--json")
  rows = {r["ablation"]: r for r in out["rows"]}
  assert list(rows) == [
      "none (the checkpoint's EMA weights)", "conv3_2 removed",
      "raw weights instead of the EMA", "horizontal flip averaged",
      "ten crops (pad 2) averaged", "dense evaluation (pad 2, flips) averaged"]
  assert out["notes"] == ["dropout: the model has no dropout",
                          "bn: the model has no batch norm"]
  intact = eval_json(capsys, "--workdir", str(vgg_run), "--json")
  assert rows["none (the checkpoint's EMA weights)"]["top1"] == pytest.approx(intact["top1"])
  assert rows["none (the checkpoint's EMA weights)"]["loss"] == pytest.approx(intact["loss"])
  for r in out["rows"]:
    assert r["delta_top1"] == pytest.approx(r["top1"] - intact["top1"])
    assert 0 <= r["top1"] <= 1 and np.isfinite(r["loss"])
  assert rows["conv3_2 removed"]["top1"] < intact["top1"]
  # Raw weights: what the same checkpoint scores without its moving average.
  assert rows["raw weights instead of the EMA"]["loss"] != pytest.approx(intact["loss"])
  assert sorted(p.relative_to(vgg_run) for p in vgg_run.rglob("*")) == files  # nothing written


def test_ablate_markdown_and_group_choice(vgg_run, capsys):
  from eval import __main__ as eval_main
  assert eval_main.main(["ablate", "--workdir", str(vgg_run), "--only", "blocks"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[1] == "| ablation | top-1 % | Δ top-1 | loss |"
  assert len(lines) == 5 and lines[4].startswith("| conv3_2 removed | ")


@pytest.mark.parametrize("flags, message", [
    (["--only", "blocks,knees"], "unknown group knees"),
    (["--blocks", "conv1"], "conv1 cannot be removed"),
    (["--samples", "0"], "--samples and --bn_batches must be >= 1"),
])
def test_bad_ablations_are_one_line(vgg_run, capsys, flags, message):
  assert message in eval_error(capsys, "ablate", "--workdir", str(vgg_run), *flags)


def test_a_missing_run_is_one_line(tmp_path, capsys):
  assert "run" in eval_error(capsys, "ablate", "--workdir", str(tmp_path / "nothing"))
