"""What `eval study` and `eval compare` share: reading runs, the table, its formats."""
import json
import sys

from eval import outputs, score
from jcnn import runs, study_tables

FORMATS = ("markdown", "csv", "latex", "json")


def add_table_arguments(parser) -> None:
  parser.add_argument("--baseline", default=None,
                      help="variant the differences are taken against (default: the "
                      "study's baseline / the first group)")
  parser.add_argument("--target", type=float, default=None,
                      help="test top-1 (0-1) whose first step is reported")
  parser.add_argument("--format", choices=FORMATS, default="markdown",
                      help="markdown (default), csv, latex or json")
  parser.add_argument("--plot", default=None, metavar="DIR",
                      help="also write learning curves with std bands and a bar chart here")


def finished_results(groups: list[tuple[str, list]], target) -> list:
  """RunResults of the finished runs; runs still training are named and left out."""
  results = []
  for variant, folders in groups:
    for folder in folders:
      run = runs.Run.open(folder)
      if not run.finished:
        print(f"note: left out {folder}: not finished (training or interrupted)",
              file=sys.stderr)
        continue
      if run.config.task != "classification":
        raise ValueError(f"{folder} is a {run.config.task} run; studies compare "
                         "classification runs")
      results.append(study_tables.read_run(run, variant, target, evaluate=score.score))
  if not results:
    raise ValueError("no finished run to report")
  return results


def report(results, variants: list[str], baseline: str | None, args,
           protected: list) -> None:
  """Prints the table in --format and writes --plot (never inside a `protected` folder)."""
  if baseline is not None and baseline not in variants:
    raise ValueError(f"--baseline {baseline!r} is not one of {', '.join(variants)}")
  plot_dir = None
  if args.plot is not None:
    for folder in protected:
      plot_dir = outputs.outside_run(args.plot, folder)
  rows = study_tables.variant_rows(results, variants, baseline)
  files = [] if plot_dir is None else study_tables.plot(results, rows, plot_dir)
  if args.format == "json":
    print(json.dumps({"baseline": baseline, "rows": rows, "files": files}))
    return
  print({"markdown": study_tables.markdown, "csv": study_tables.csv_text,
         "latex": study_tables.latex}[args.format](rows).rstrip("\n"))
  for f in files:
    print(f"wrote {f}", file=sys.stderr)
