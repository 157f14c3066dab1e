"""Study files and sweeps: what they plan, and every bad file they refuse."""
import importlib
import pathlib

import pytest

from jcnn import studies, tasks
from train.configs import default


def write(tmp_path, body: str, name: str = "s.py"):
  path = tmp_path / name
  path.write_text('"""A claim."""\nfrom train.configs import default\n'
                  "get_config = default.get_config\n" + body)
  return path


def test_a_study_plans_every_variant_and_seed(tmp_path):
  study = studies.load(write(tmp_path, 'VARIANTS = (("a", {}), ("b", {"crop_padding": 0}))\n'
                                       "SEEDS = (0, 3)\n"))
  assert study.name == "s" and study.claim == "A claim." and study.baseline == "a"
  planned = studies.plan(study, tmp_path / "w")
  assert [(p.variant, p.seed, p.workdir.relative_to(tmp_path).as_posix()) for p in planned] == [
      ("a", 0, "w/a/seed_0"), ("a", 3, "w/a/seed_3"), ("b", 0, "w/b/seed_0"),
      ("b", 3, "w/b/seed_3")]
  assert [p.config.crop_padding for p in planned] == [2, 2, 0, 0]
  assert [p.config.seed for p in planned] == [0, 3, 0, 3]
  assert planned[3].config.name == "s/b/seed_3"
  assert [p.workdir.name for p in studies.plan(study, "w", only=["b"], seeds=[3])] == ["seed_3"]


@pytest.mark.parametrize("body, message", [
    ("VARIANTS = ()\nSEEDS = (0,)\n", "the study has no variants"),
    ('VARIANTS = (("a", {}), ("a", {"crop_padding": 0}))\nSEEDS = (0,)\n',
     "two variants are named 'a'"),
    ('VARIANTS = (("a", {"crop_pading": 0}),)\nSEEDS = (0,)\n',
     "variant 'a' overrides config.crop_pading, which the base config does not have"),
    ('VARIANTS = (("a", {"seed": 1}),)\nSEEDS = (0,)\n', "seeds come from SEEDS"),
    ('VARIANTS = (("a/b", {}),)\nSEEDS = (0,)\n', "cannot be a folder name"),
    ('VARIANTS = (("a", {}),)\nSEEDS = (0, 0)\n', "SEEDS repeats a seed"),
    ('VARIANTS = (("a", {}),)\n', "defines no SEEDS"),
    ('VARIANTS = (("a", {}),)\nSEEDS = (0,)\nBASELINE = "b"\n', "BASELINE 'b' is not a variant"),
])
def test_bad_study_files(tmp_path, body, message):
  with pytest.raises(ValueError, match=message):
    studies.load(write(tmp_path, body))


def test_plan_limits_must_name_what_the_study_has(tmp_path):
  study = studies.load(write(tmp_path, 'VARIANTS = (("a", {}),)\nSEEDS = (0,)\n'))
  with pytest.raises(ValueError, match="--only z: the study's variants are a"):
    studies.plan(study, "w", only=["z"])
  with pytest.raises(ValueError, match="--seeds 5: the study's seeds are 0"):
    studies.plan(study, "w", seeds=[5])


def test_sweeps_are_the_cartesian_product():
  base = default.get_config()
  study = studies.from_sweeps(base, ["config.learning_rate=1e-3,3e-3",
                                     "config.optimizer=adam,sgd", "config.seed=0,1"])
  assert [v.name for v in study.variants] == [
      "learning_rate=0.001,optimizer=adam", "learning_rate=0.001,optimizer=sgd",
      "learning_rate=0.003,optimizer=adam", "learning_rate=0.003,optimizer=sgd"]
  assert study.seeds == (0, 1)
  planned = studies.plan(study, "w")
  assert len(planned) == 8 and planned[-1].config.optimizer == "sgd"
  assert planned[-1].config.learning_rate == 3e-3
  with pytest.raises(ValueError, match="the config has no field learning_rat"):
    studies.from_sweeps(base, ["config.learning_rat=1"])
  with pytest.raises(ValueError, match="--sweep takes config.FIELD=V1,V2"):
    studies.from_sweeps(base, ["learning_rate=1"])
  with pytest.raises(ValueError, match="config.batch_size='big'"):
    studies.plan(studies.from_sweeps(base, ["config.batch_size=big"]), "w")


STUDY_FILES = sorted(pathlib.Path(__file__).parents[2].joinpath("train", "studies").glob("[!_]*.py"))


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.stem)
def test_every_canon_study_states_its_claim_measurement_and_verdict(path):
  study = studies.load(path)  # every variant overrides a field the base config has
  assert len(study.seeds) >= 3
  for planned in studies.plan(study, "w"):
    tasks.validate(planned.config)
  doc = importlib.import_module(f"train.studies.{path.stem}").__doc__
  assert f"python -m train --study train/studies/{path.stem}.py" in doc
  for word in ("Claim:", "Expected", "Measured (", "2-core CPU", "Verdict:", "Setup:",
               "for a GPU"):
    assert word in doc, f"{path.stem}: no {word!r}"
