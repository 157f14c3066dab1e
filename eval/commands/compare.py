"""Compares any runs: those whose configs differ only in the seed are one group.

The same table as `eval study` (mean ± std (n) per group, Welch's 95 % interval of
each group's top-1 difference to the first or --baseline group). A group is named
after its first run's folder (a seed_<k> folder: after its parent).

Each run is a --workdir RUN; run folders given without the flag work too (they count
after the --workdir ones).

Example:
  python -m eval compare --workdir runs/lenet5_a --workdir runs/lenet5_b --workdir runs/lenet5_c
"""
import pathlib

from eval import study_report
from jcnn import runs, studies


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", action="append", default=[], metavar="RUN",
                      help="a run folder; repeat it for each run")
  parser.add_argument("runs", nargs="*", metavar="RUN", help="run folders, without --workdir")
  study_report.add_table_arguments(parser)


def _group_name(folder: pathlib.Path) -> str:
  return folder.parent.name if folder.name.startswith(studies.SEED_PREFIX) else folder.name


def run(args) -> None:
  folders = [*args.workdir, *args.runs]
  if not folders:
    raise ValueError("give the runs to compare: --workdir RUN --workdir RUN ...")
  groups: dict = {}
  for folder in map(pathlib.Path, folders):
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
                      [pathlib.Path(r) for r in folders])
