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
"""
import argparse
import importlib
import pkgutil
import sys

from eval import commands

DEFAULT_COMMAND = "evaluate"


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
  return parser


def main(argv: list[str]) -> int:
  modules = _commands()
  if not argv or argv[0] not in (*modules, "-h", "--help"):
    argv = [DEFAULT_COMMAND, *argv]
  args = _parser(modules).parse_args(argv)
  from jcnn import checkpoint, runtime
  runtime.quiet()
  runtime.configure()
  try:
    modules[args.command].run(args)
  except (ValueError, OSError, checkpoint.CheckpointError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
