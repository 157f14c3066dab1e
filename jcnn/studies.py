"""Studies: a base config, named variants and seeds, trained into one folder each.

A study file (train/studies/NAME.py) has a docstring stating the claim, the expected
outcome and the time it takes, and defines

    def get_config(): ...                  # the base config
    VARIANTS = (("crop", {}), ("none", {"crop_padding": 0}), ...)   # name, overrides
    SEEDS = (0, 1, 2)
    BASELINE = "none"                      # optional: the first variant otherwise

Run folders are `<workdir>/<variant>/seed_<k>`. A command-line sweep
(`--sweep config.FIELD=V1,V2`) is a study whose variants are the cartesian product.
The plan is kept in <workdir>/study.json (`write_plan`, `read_plan`). Reading the
results is `jcnn.study_tables`' job; this module only plans and checks.
"""
import ast
import dataclasses
import importlib.util
import itertools
import json
import pathlib
from typing import Any, Sequence

import ml_collections

from jcnn import runs

SEED_PREFIX = "seed_"


@dataclasses.dataclass(frozen=True)
class Variant:
  name: str
  overrides: dict


@dataclasses.dataclass(frozen=True)
class Study:
  """Attributes: name, claim (the file's docstring), base config, variants, seeds and
  the baseline variant that differences are taken against."""
  name: str
  claim: str
  base: ml_collections.ConfigDict
  variants: tuple
  seeds: tuple
  baseline: str


@dataclasses.dataclass(frozen=True)
class PlannedRun:
  variant: str
  seed: int
  workdir: pathlib.Path
  config: ml_collections.ConfigDict


def _has_field(config: ml_collections.ConfigDict, field: str) -> bool:
  node = config
  for part in field.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      return False
    node = node[part]
  return True


def _set(config: ml_collections.ConfigDict, field: str, value: Any) -> None:
  *parents, leaf = field.split(".")
  node = config
  for part in parents:
    node = node[part]
  try:
    node[leaf] = value
  except (TypeError, ValueError) as e:
    raise ValueError(f"config.{field}={value!r}: {e}") from None


def check_variants(base: ml_collections.ConfigDict, variants: Sequence) -> tuple:
  """Variants as `Variant`s, each override naming an existing field; else ValueError."""
  if not variants:
    raise ValueError("the study has no variants")
  checked, seen = [], set()
  for item in variants:
    if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
            and isinstance(item[1], dict)):
      raise ValueError(f"a variant is a (name, {{field: value}}) pair, got {item!r}")
    name, overrides = item
    if not name or "/" in name or name.startswith("."):
      raise ValueError(f"variant name {name!r} cannot be a folder name")
    if name in seen:
      raise ValueError(f"two variants are named {name!r}")
    seen.add(name)
    for field in overrides:
      if not _has_field(base, field):
        raise ValueError(f"variant {name!r} overrides config.{field}, which the base "
                         "config does not have")
      if field == "seed":
        raise ValueError(f"variant {name!r} sets config.seed; seeds come from SEEDS")
    checked.append(Variant(name, dict(overrides)))
  return tuple(checked)


def _check_seeds(seeds: Sequence) -> tuple:
  if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
    raise ValueError(f"SEEDS must be non-negative ints, got {seeds!r}")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"SEEDS repeats a seed: {seeds!r}")
  return tuple(seeds)


def load(path: str | pathlib.Path) -> Study:
  """Reads and checks a study file."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise ValueError(f"no study file {path}")
  spec = importlib.util.spec_from_file_location(f"jcnn_study_{path.stem}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  for needed in ("get_config", "VARIANTS", "SEEDS"):
    if not hasattr(module, needed):
      raise ValueError(f"study {path} defines no {needed}")
  base = module.get_config()
  variants = check_variants(base, module.VARIANTS)
  baseline = getattr(module, "BASELINE", variants[0].name)
  if baseline not in {v.name for v in variants}:
    raise ValueError(f"BASELINE {baseline!r} is not a variant of {path}")
  return Study(path.stem, (module.__doc__ or "").strip(), base, variants,
               _check_seeds(module.SEEDS), baseline)


def parse_value(text: str) -> Any:
  """A sweep value: a Python literal (1e-3, True, (1, 2)) or else the string itself."""
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def from_sweeps(base: ml_collections.ConfigDict, sweeps: Sequence[str]) -> Study:
  """A study over the cartesian product of `config.FIELD=V1,V2,...` sweeps."""
  axes, seeds = [], (base.seed,)
  for sweep in sweeps:
    field, sep, values = sweep.partition("=")
    if not sep or not field.startswith("config.") or not values:
      raise ValueError(f"--sweep takes config.FIELD=V1,V2,..., got {sweep!r}")
    field = field[len("config."):]
    parsed = [parse_value(v.strip()) for v in values.split(",")]
    if field == "seed":
      seeds = _check_seeds(parsed)
      continue
    if not _has_field(base, field):
      raise ValueError(f"--sweep {sweep}: the config has no field {field}")
    axes.append([(field, v) for v in parsed])
  variants = []
  for combo in itertools.product(*axes):
    name = ",".join(f"{f}={v}" for f, v in combo) or "base"
    variants.append((name, dict(combo)))
  checked = check_variants(base, variants)
  return Study("sweep", "", base, checked, seeds, checked[0].name)


def plan(study: Study, workdir: str | pathlib.Path, only: Sequence[str] | None = None,
         seeds: Sequence[int] | None = None) -> list[PlannedRun]:
  """Every variant × seed to train (limited to `only` and `seeds`), with its config."""
  names = [v.name for v in study.variants]
  for name in only or ():
    if name not in names:
      raise ValueError(f"--only {name}: the study's variants are {', '.join(names)}")
  for seed in seeds or ():
    if seed not in study.seeds:
      raise ValueError(f"--seeds {seed}: the study's seeds are "
                       f"{', '.join(map(str, study.seeds))}")
  planned = []
  for variant in study.variants:
    if only and variant.name not in only:
      continue
    for seed in study.seeds:
      if seeds and seed not in seeds:
        continue
      config = study.base.copy_and_resolve_references()
      for field, value in variant.overrides.items():
        _set(config, field, value)
      config.seed = seed
      config.name = run_name(study.name, variant.name, seed_folder(seed))
      planned.append(PlannedRun(variant.name, seed,
                                pathlib.Path(workdir) / variant.name / seed_folder(seed),
                                config))
  return planned


def seed_folder(seed: int) -> str:
  return f"{SEED_PREFIX}{seed}"


def run_name(study: str, variant: str, folder: str) -> str:
  """The `config.name` of a study's run: what tells its folder belongs to the study."""
  return f"{study}/{variant}/{folder}"


def describe(study: Study) -> dict:
  """The plan as JSON: name, claim, baseline, seeds, variants with their overrides."""
  return {"name": study.name, "claim": study.claim, "baseline": study.baseline,
          "seeds": list(study.seeds),
          "variants": [{"name": v.name, "overrides": v.overrides} for v in study.variants]}


def write_plan(study: Study, workdir: pathlib.Path) -> None:
  """<workdir>/study.json; a folder holding another study's plan is refused."""
  path = workdir / runs.STUDY_FILE
  plan = describe(study)
  if path.exists():
    old = read_plan(workdir)
    if (old["name"], old["variants"]) != (plan["name"], plan["variants"]):
      raise ValueError(f"{workdir} holds study {old['name']!r} with other variants; "
                       "choose another --workdir")
  workdir.mkdir(parents=True, exist_ok=True)
  runs.save_json(path, plan)


def read_plan(workdir: pathlib.Path) -> dict:
  """The plan `write_plan` kept in `workdir`; ValueError when there is none or it is not
  a plan."""
  path = workdir / runs.STUDY_FILE
  if not path.exists():
    raise ValueError(f"{workdir} is not a study folder (no {runs.STUDY_FILE}); "
                     "`python -m eval compare --workdir RUN ...` compares any runs")
  # json raises RecursionError, not ValueError, for a file nested deeper than the stack.
  try:
    plan = json.loads(path.read_text())
  except (ValueError, RecursionError) as e:
    raise ValueError(f"{path} is unreadable ({type(e).__name__}: {e})") from None
  if not isinstance(plan, dict) or not {"name", "variants"} <= plan.keys():
    raise ValueError(f"{path} is not a study plan: it lacks \"name\" or \"variants\"")
  return plan
