"""Evaluate and analyse trained checkpoints: `jcnn-eval [COMMAND] ...`.

`jcnn-eval` is what `pip install` puts on the PATH; `python -m eval` is the same program.

With no command, `evaluate` runs: top-1, top-5 and loss of a checkpoint on a split.
`python -m eval COMMAND --help` explains each command. Every command that reads runs
takes them as --workdir RUN (repeated where it compares several).

Examples:
  python -m eval --workdir runs/lenet5_digits
  python -m eval --workdir runs/lenet5_digits --step 420 --split test --json
  python -m eval --workdir runs/lenet5_mnist --watch        # evaluate each new checkpoint
  python -m eval predict --workdir runs/lenet5_mnist digit.png
  python -m eval predict --workdir runs/lenet5_mnist photos/ --output results.csv
  python -m eval detect --workdir runs/frcnn_digits --json   # VOC and COCO AP
  python -m eval predict --workdir runs/frcnn_digits street.jpg --output boxes/
  python -m eval study --workdir runs/data_augmentation      # mean ± std per variant
  python -m eval compare --workdir runs/a --workdir runs/b
  python -m eval viz --workdir runs/small_vgg_cifar10 top9 --layer relu3  # ZF's figures
  python -m eval probe --workdir runs/small_vgg_mnist --dataset digits     # transfer
  python -m eval export --workdir runs/lenet5_digits --format stablehlo --output lenet5/

Flags are spelt with underscores, as in `python -m train` (--num_images, --top_k);
the hyphenated spelling (--num-images) works too. A mistake in the arguments is one
line, `error: ...`, and exit status 2.

Opens runs read-only (jcnn.runs.Run.open): never locks or writes the workdir.
`evaluate` and `detect` also run on several processes, as `python -m train` does
(--coordinator, --num_processes, --process_id): each process loads its rows of every
batch, and process 0 prints.
"""
import argparse
import ast
import difflib
import importlib
import importlib.util
import os
import pathlib
import re
import sys

# Every command. Its module is eval/commands/<name, "-" as "_">.py, with a docstring (its
# first line is the command's summary), add_arguments(parser) and run(args); it is
# imported only when the command runs, so `python -m eval --help` loads no jax.
COMMANDS = (
    "ablate",
    "compare",
    "compare-models",
    "cost",
    "detect",
    "evaluate",
    "export",
    "import-weights",
    "models",
    "predict",
    "probe",
    "rf",
    "study",
    "viz",
)
DEFAULT_COMMAND = "evaluate"
# The commands that score a whole split on the device mesh: what several processes share.
GROUP_COMMANDS = ("evaluate", "detect")


class UsageError(Exception):
  """A mistake in the command line, reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
  """argparse, but a mistake raises UsageError (one line, with a close match) instead
  of printing the usage and exiting."""

  def error(self, message):
    unknown = re.match(r"unrecognized arguments: (\S+)", message)
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if unknown:
      message += _hint(unknown[1], _options(self))
    elif choice:
      message += _hint(choice[1], re.findall(r"'([^']*)'", choice[2]))
    raise UsageError(f"{self.prog}: {message}")


def _options(parser: argparse.ArgumentParser) -> list[str]:
  """The --flags `parser` shows in its usage."""
  return re.findall(r"--[\w-]+", parser.format_usage())


def _hint(given: str, choices) -> str:
  """"; did you mean X?" for the choice closest to `given`, or ""."""
  given = given.partition("=")[0]
  close = ([c for c in choices if given.startswith(c) or c.startswith(given)]
           or difflib.get_close_matches(given, choices, n=1))
  return f"; did you mean {close[0]}?" if close else ""


def _module_name(command: str) -> str:
  return f"eval.commands.{command.replace('-', '_')}"


def _summary(command: str) -> str:
  """The first line of the command module's docstring, read without importing it."""
  with open(importlib.util.find_spec(_module_name(command)).origin, encoding="utf-8") as f:
    return ast.get_docstring(ast.parse(f.read())).strip().splitlines()[0]


def _overview() -> argparse.ArgumentParser:
  parser = _Parser(prog=_program(), description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  for name in COMMANDS:
    subparsers.add_parser(name, help=_summary(name))
  return parser


def _command_parser(name: str, module) -> argparse.ArgumentParser:
  parser = _Parser(prog=f"{_program()} {name}", description=module.__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
  module.add_arguments(parser)
  if name in GROUP_COMMANDS:
    _add_group_arguments(parser)
  return parser


def _add_group_arguments(parser) -> None:
  group = parser.add_argument_group("several processes (jax.distributed, as python -m train)")
  group.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                     help="process 0's address; give --num_processes and --process_id too. "
                          "Without it, a SLURM, Open MPI, Kubernetes or Cloud TPU cluster "
                          "is detected from the environment")
  group.add_argument("--num_processes", type=int, default=None, help="processes in the group")
  group.add_argument("--process_id", type=int, default=None,
                     help="this process's rank, 0 to num_processes - 1; process 0 prints")
  group.add_argument("--join_timeout", type=int, default=120,
                     help="seconds to wait for the coordinator and the others (default 120)")


def _spelt_as_documented(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
  """`argv` with each --flag spelt as `parser` shows it: `-` and `_` between its words
  are the same flag (--num-images is --num_images). A --flag that is none of the
  parser's is an error here, before argparse would say a required one is missing."""
  documented = _options(parser)
  by_words = {flag.replace("-", "_"): flag for flag in documented}
  out = []
  for i, arg in enumerate(argv):
    if arg == "--":
      return out + argv[i:]
    name, equals, value = arg.partition("=")
    if name.startswith("--") and name != "--help":
      name = by_words.get(name.replace("-", "_"), name)
      if not any(flag.startswith(name) for flag in documented):  # argparse takes prefixes
        parser.error(f"unknown flag {name}{_hint(name, documented)}")
    out.append(name + equals + value)
  return out


def parse(argv: list[str]) -> tuple[str, argparse.Namespace]:
  """(command, its arguments); imports only that command's module.

  Raises:
    UsageError: the arguments are wrong.
    SystemExit: --help was asked for (status 0).
  """
  if argv[:1] in (["-h"], ["--help"]):
    _overview().parse_args(argv[:1])
  if argv and argv[0] in COMMANDS:
    name, argv = argv[0], argv[1:]
  elif argv and not argv[0].startswith("-"):
    raise UsageError(f"unknown command {argv[0]!r}{_hint(argv[0], COMMANDS)} "
                     f"(commands: {', '.join(COMMANDS)})")
  else:
    name = DEFAULT_COMMAND
  parser = _command_parser(name, importlib.import_module(_module_name(name)))
  return name, parser.parse_args(_spelt_as_documented(parser, argv))


def _join_group(args) -> None:
  """Joins the process group the flags (or the cluster) describe; only process 0 prints."""
  from jcnn import parallel
  if not parallel.initialize(args.coordinator, args.num_processes, args.process_id,
                             args.join_timeout):
    return
  if getattr(args, "watch", False):
    raise ValueError("--watch polls on one process; several processes would see new "
                     "checkpoints at different times")
  if not parallel.is_primary():
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the process's life)


def main(argv: list[str]) -> int:
  """Runs `python -m eval ARGV`; returns the exit status (2: bad arguments or input)."""
  try:
    name, args = parse(argv)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  from jcnn import checkpoint, runtime
  runtime.quiet()
  runtime.configure()
  try:
    if name in GROUP_COMMANDS:
      _join_group(args)
    importlib.import_module(_module_name(name)).run(args)
  except (ValueError, OSError, checkpoint.CheckpointError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    return 130
  return 0


def _program() -> str:
  """How the user called this program, for usage lines."""
  return "jcnn-eval" if pathlib.Path(sys.argv[0]).name == "jcnn-eval" else "python -m eval"


def run() -> None:
  """The `jcnn-eval` program (pyproject's console script)."""
  sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
  run()
