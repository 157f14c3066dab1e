"""`eval study` and `eval compare` on study folders made by hand from one real run,
with known test top-1 values; `train --study` resuming an interrupted study."""
import json
import shutil

import numpy as np
import pytest
from scipy import stats

from eval import __main__ as eval_main
from jcnn import runs, studies, training
from tests.helpers import eval_error, eval_json, tiny_config
from jcnn.training import study as study_runner

# Known final test top-1 per variant and seed.
VALUES = {"wide": {0: 0.90, 1: 0.92, 2: 0.97}, "narrow": {0: 0.80, 1: 0.84}}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("real") / "run"
  training.train_and_evaluate(tiny_config(num_epochs=1), str(workdir))
  return workdir


def make_run(source, folder, name: str, seed: int, top1: float, done: bool = True):
  """A copy of `source` whose config and log say: run `name`, seed, final top-1."""
  shutil.copytree(source, folder)
  config = json.loads((folder / runs.CONFIG_FILE).read_text())
  (folder / runs.CONFIG_FILE).write_text(json.dumps({**config, "name": name, "seed": seed}))
  step = runs.Run.open(folder).steps()[-1]
  records = [{"step": step // 2, "split": "eval", "top1": top1 - 0.1, "top5": 1.0,
              "loss": 1.0, "num_examples": 450},
             {"step": step, "split": "train", "top1": 1.0, "loss": 0.1, "img_per_s": 1000.0},
             {"step": step, "split": "eval", "top1": top1, "top5": 1.0, "loss": 0.5,
              "num_examples": 450}]
  if done:
    records.append({"step": step, "split": "done", "total_steps": step})
  (folder / runs.METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def study_dir(real_run, tmp_path):
  root = tmp_path / "study"
  plan = studies.Study("widths", "", tiny_config(), (
      studies.Variant("narrow", {}), studies.Variant("wide", {"crop_padding": 0})),
      (0, 1, 2), "narrow")
  root.mkdir()
  studies.write_plan(plan, root)
  for variant, seeds in VALUES.items():
    for seed, top1 in seeds.items():
      make_run(real_run, root / variant / f"seed_{seed}", f"widths/{variant}/seed_{seed}",
               seed, top1)
  return root


def test_the_table_holds_mean_std_and_welchs_interval(study_dir, capsys):
  out = eval_json(capsys, "study", str(study_dir), "--format", "json", "--target", "0.85")
  assert out["baseline"] == "narrow"
  narrow, wide = out["rows"]
  assert (narrow["variant"], narrow["n"], wide["variant"], wide["n"]) == ("narrow", 2, "wide", 3)
  # By hand: wide 0.90, 0.92, 0.97 -> mean 0.93, std (n - 1) sqrt(0.0026 / 2) = 0.0361.
  assert wide["top1_mean"] == pytest.approx(0.93)
  assert wide["top1_std"] == pytest.approx(np.sqrt((0.03**2 + 0.01**2 + 0.04**2) / 2))
  assert narrow["top1_std"] == pytest.approx(np.sqrt((0.02**2 + 0.02**2) / 1))
  assert wide["best_top1_mean"] == pytest.approx(0.93)
  assert wide["gap_mean"] == pytest.approx(1 - 0.93)
  assert wide["runs"] == [str(study_dir / "wide" / f"seed_{s}") for s in (0, 1, 2)]
  # scipy's Welch t-test gives the same interval.
  welch = stats.ttest_ind(list(VALUES["wide"].values()), list(VALUES["narrow"].values()),
                          equal_var=False).confidence_interval(0.95)
  assert wide["diff_to_baseline"] == pytest.approx(0.11)
  assert wide["diff_ci95"] == pytest.approx([welch.low, welch.high])
  assert narrow["diff_ci95"] is None
  # Steps to 85 %: only the wide seeds reach it, at their last evaluation.
  assert wide["steps_to_target_mean"] > 0 and narrow["steps_to_target_mean"] is None


def test_markdown_csv_and_plots(study_dir, tmp_path, capsys):
  assert eval_main.main(["study", str(study_dir)]) == 0
  table = capsys.readouterr().out
  assert "| wide | 93.00 ± 3.61 (3) |" in table and "| narrow | 82.00 ± 2.83 (2) |" in table
  assert eval_main.main(["study", str(study_dir), "--format", "csv",
                         "--plot", str(tmp_path / "plots")]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].startswith("variant,n,top1_mean,top1_std")
  assert lines[2].startswith("wide,3,0.93")
  assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["curves.png", "top1.png"]
  assert eval_main.main(["study", str(study_dir), "--format", "latex"]) == 0
  assert r"\begin{tabular}" in capsys.readouterr().out


def test_a_run_still_training_is_left_out_and_named(study_dir, capsys):
  records = (study_dir / "wide" / "seed_2" / runs.METRICS_FILE).read_text().splitlines()
  (study_dir / "wide" / "seed_2" / runs.METRICS_FILE).write_text("\n".join(records[:-1]) + "\n")
  assert eval_main.main(["study", str(study_dir), "--format", "json"]) == 0
  captured = capsys.readouterr()
  assert json.loads(captured.out)["rows"][1]["n"] == 2
  assert f"left out {study_dir / 'wide' / 'seed_2'}: not finished" in captured.err


def test_a_missing_evaluation_is_computed_from_the_checkpoint(study_dir, real_run, capsys):
  folder = study_dir / "narrow" / "seed_0"
  records = [json.loads(l) for l in (folder / runs.METRICS_FILE).read_text().splitlines()]
  (folder / runs.METRICS_FILE).write_text("".join(
      json.dumps(r) + "\n" for r in records if r["split"] != "eval"))
  real = eval_json(capsys, "--workdir", str(real_run), "--json")
  out = eval_json(capsys, "study", str(study_dir), "--format", "json")
  narrow = out["rows"][0]
  assert narrow["top1_mean"] == pytest.approx((real["top1"] + VALUES["narrow"][1]) / 2)


def test_bad_study_folders(study_dir, real_run, tmp_path, capsys):
  assert "not a study folder (no study.json)" in eval_error(capsys, "study", str(real_run))
  assert "inside the run folder" in eval_error(capsys, "study", str(study_dir), "--plot",
                                               str(study_dir / "plots"))
  assert "--baseline 'big' is not one of narrow, wide" in eval_error(
      capsys, "study", str(study_dir), "--baseline", "big")
  make_run(real_run, study_dir / "wide" / "seed_7", "other/wide/seed_7", 7, 0.5)
  assert "a run of another study is mixed in" in eval_error(capsys, "study", str(study_dir))
  shutil.rmtree(study_dir / "wide" / "seed_7")
  (study_dir / "extra").mkdir()
  assert "is not a variant of study 'widths'" in eval_error(capsys, "study", str(study_dir))


def test_compare_groups_runs_that_differ_only_in_the_seed(study_dir, capsys):
  folders = [str(study_dir / v / f"seed_{s}") for v in ("wide", "narrow") for s in VALUES[v]]
  out = eval_json(capsys, "compare", *folders, "--format", "json")
  # The hand-made copies share one config apart from name and seed: one group.
  assert [(r["variant"], r["n"]) for r in out["rows"]] == [("wide", 5)]
  assert out["rows"][0]["top1_mean"] == pytest.approx(np.mean([0.9, 0.92, 0.97, 0.8, 0.84]))


def test_study_and_compare_take_their_runs_as_workdir_like_every_command(study_dir, capsys):
  table = ["--format", "json"]
  positional = eval_json(capsys, "study", str(study_dir), *table)
  assert eval_json(capsys, "study", "--workdir", str(study_dir), *table) == positional
  folders = [str(study_dir / v / f"seed_{s}") for v in ("wide", "narrow") for s in VALUES[v]]
  positional = eval_json(capsys, "compare", *folders, *table)
  flags = [arg for folder in folders for arg in ("--workdir", folder)]
  assert eval_json(capsys, "compare", *flags, *table) == positional
  assert eval_json(capsys, "compare", *flags[:4], *folders[2:], *table) == positional
  assert eval_error(capsys, "study", "--workdir", str(study_dir), str(study_dir)) == (
      "error: give the study's folder once: --workdir STUDY")
  assert eval_error(capsys, "compare", *table) == (
      "error: give the runs to compare: --workdir RUN --workdir RUN ...")


def test_an_interrupted_study_resumes_and_skips_finished_runs(tmp_path):
  file = tmp_path / "two.py"
  file.write_text('"""Two widths."""\nfrom tests.helpers import tiny_config\n'
                  "def get_config():\n  return tiny_config(num_epochs=1)\n"
                  'VARIANTS = (("a", {}), ("b", {"crop_padding": 0}))\nSEEDS = (0,)\n')
  study = studies.load(file)
  first = list(study_runner.run_study(study, tmp_path / "w", only=["a"]))   # stopped here
  assert [r["variant"] for r in first] == ["a"] and runs.Run.open(tmp_path / "w/a/seed_0").finished
  again = list(study_runner.run_study(study, tmp_path / "w"))
  assert again[0] == {"variant": "a", "seed": 0, "workdir": str(tmp_path / "w/a/seed_0"),
                      "skipped": True}
  assert again[1]["variant"] == "b" and again[1]["top1"] > 0.3
  assert runs.Run.open(tmp_path / "w/b/seed_0").config.crop_padding == 0
  other = studies.Study("two", "", study.base, (studies.Variant("c", {}),), (0,), "c")
  with pytest.raises(ValueError, match="holds study 'two' with other variants"):
    list(study_runner.run_study(other, tmp_path / "w"))
