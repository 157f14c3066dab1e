"""Evaluate and analyse trained checkpoints: `python -m eval [COMMAND] ...`.

With no command, `evaluate` runs: top-1, top-5 and loss of a checkpoint on a split.
`python -m eval COMMAND --help` explains each command.

Examples:
  python -m eval --workdir runs/lenet5_digits
  python -m eval --workdir runs/lenet5_digits --step 420 --split test --json
  python -m eval --workdir runs/lenet5_mnist --watch        # evaluate each new checkpoint
  python -m eval predict --workdir runs/lenet5_mnist digit.png
  python -m eval detect --workdir runs/frcnn_digits --json   # VOC and COCO AP
  python -m eval predict --workdir runs/frcnn_digits street.jpg --output boxes/
  python -m eval viz --workdir runs/small_vgg_cifar10 top9 --layer relu3  # ZF's figures
  python -m eval probe --workdir runs/small_vgg_mnist --dataset digits     # transfer

Opens runs read-only (jcnn.runs.Run.open): never locks or writes the workdir.
`evaluate` and `detect` also run on several processes, as `python -m train` does
(--coordinator, --num_processes, --process_id): each process loads its rows of every
batch, and process 0 prints.
"""
import argparse
import importlib
import os
import pkgutil
import sys

from eval import commands

DEFAULT_COMMAND = "evaluate"
# The commands that score a whole split on the device mesh: what several processes share.
GROUP_COMMANDS = ("evaluate", "detect")


def _commands() -> dict:
  """{command name: module} for every module in eval/commands."""
  return {m.name.replace("_", "-"): importlib.import_module(f"{commands.__name__}.{m.name}")
          for m in pkgutil.iter_modules(commands.__path__)}


def _parser(modules: dict) -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  for name, module in sorted(modules.items()):
    summary = module.__doc__.strip().splitlines()[0]
    sub = subparsers.add_parser(name, help=summary, description=module.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(sub)
    if name in GROUP_COMMANDS:
      _add_group_arguments(sub)
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
  modules = _commands()
  if not argv or argv[0] not in (*modules, "-h", "--help"):
    argv = [DEFAULT_COMMAND, *argv]
  args = _parser(modules).parse_args(argv)
  from jcnn import checkpoint, runtime
  runtime.quiet()
  runtime.configure()
  try:
    if args.command in GROUP_COMMANDS:
      _join_group(args)
    modules[args.command].run(args)
  except (ValueError, OSError, checkpoint.CheckpointError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
