"""Compares any runs: those whose configs differ only in the seed are one group.

The same table as `eval study` (mean ± std (n) per group, Welch's 95 % interval of
each group's top-1 difference to the first or --baseline group). A group is named
after its first run's folder (a seed_<k> folder: after its parent).

Example:
  python -m eval compare runs/lenet5_a runs/lenet5_b runs/lenet5_c
"""
import pathlib

from eval import study_report
from jcnn import runs, studies


def add_arguments(parser) -> None:
  parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
  study_report.add_table_arguments(parser)


def _group_name(folder: pathlib.Path) -> str:
  return folder.parent.name if folder.name.startswith(studies.SEED_PREFIX) else folder.name


def run(args) -> None:
  groups: dict = {}
  for folder in map(pathlib.Path, args.runs):
    config = runs.Run.open(folder).config.to_dict()
    key = repr(sorted((k, v) for k, v in config.items() if k not in ("seed", "name")))
    groups.setdefault(key, []).append(folder)
  named, seen = [], set()
  for folders in groups.values():
    name = _group_name(folders[0])
    while name in seen:
      name += "'"
    seen.add(name)
    named.append((name, folders))
  results = study_report.finished_results(named, args.target)
  variants = [name for name, _ in named]
  study_report.report(results, variants, args.baseline or variants[0], args,
                      [pathlib.Path(r) for r in args.runs])
