"""Tables of a study trained by `python -m train --study`: mean ± std (n) per variant.

Groups <workdir>/<variant>/seed_<k> by variant and reports the final and best test
top-1, train top-1 and the generalisation gap, loss, steps to --target and img/s, each
as mean ± std over seeds (std with n − 1), and Welch's 95 % interval of each variant's
top-1 difference to the baseline. Runs still training are left out and named.

The study's folder is --workdir (`python -m eval study runs/data_augmentation`, the
folder without the flag, works too).

Examples:
  python -m eval study --workdir runs/data_augmentation
  python -m eval study --workdir runs/data_augmentation --format csv --plot study_plots/
"""
import pathlib

from eval import study_report
from jcnn import runs, studies


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", default=None, help="the study's folder")
  parser.add_argument("folder", nargs="?", default=None, metavar="STUDY",
                      help="the study's folder, without --workdir")
  study_report.add_table_arguments(parser)


def study_groups(workdir: pathlib.Path) -> tuple[dict, list]:
  """The study's plan and [(variant, [run folders])]; foreign folders are refused."""
  plan = studies.read_plan(workdir)
  names = [v["name"] for v in plan["variants"]]
  for child in sorted(p for p in workdir.iterdir() if p.is_dir()):
    if child.name not in names:
      raise ValueError(f"{child} is not a variant of study {plan['name']!r} "
                       f"({', '.join(names)})")
  groups = []
  for name in names:
    folders = sorted((workdir / name).glob(f"{studies.SEED_PREFIX}*"))
    for folder in folders:
      expected = studies.run_name(plan["name"], name, folder.name)
      config_name = runs.Run.open(folder).config.name
      if config_name != expected:
        raise ValueError(f"{folder} holds run {config_name!r}, not {expected!r}: a run "
                         "of another study is mixed in")
    groups.append((name, folders))
  return plan, groups


def run(args) -> None:
  folders = [f for f in (args.workdir, args.folder) if f is not None]
  if len(folders) != 1:
    raise ValueError("give the study's folder once: --workdir STUDY")
  workdir = pathlib.Path(folders[0])
  plan, groups = study_groups(workdir)
  results = study_report.finished_results(groups, args.target)
  study_report.report(results, [name for name, _ in groups], args.baseline or plan["baseline"],
                      args, [workdir])
