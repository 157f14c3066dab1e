"""Evaluate trained checkpoints: `python -m eval [COMMAND] --workdir DIR ...`.

Commands:
  evaluate (default)  top-1, top-5 and loss of a checkpoint on a split
  predict             classify image files

Examples:
  python -m eval --workdir runs/lenet5_digits
  python -m eval --workdir runs/lenet5_digits --step 420 --split test --json
  python -m eval --workdir runs/lenet5_mnist --watch        # evaluate each new checkpoint
  python -m eval predict --workdir runs/lenet5_mnist digit.png

Reads the run's config.json, dataset.json and checkpoints; never writes to the workdir.
"""
import argparse
import json
import os
import sys

COMMANDS = ("evaluate", "predict")


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", metavar="COMMAND")

  def common(sub):
    sub.add_argument("--workdir", required=True, help="the training run's folder")
    sub.add_argument("--step", type=int, default=None,
                     help="checkpoint step to restore (default: the latest)")
    sub.add_argument("--json", action="store_true",
                     help="print exactly one JSON object (one per line with --watch)")

  ev = commands.add_parser("evaluate", help="top-1/top-5/loss on a split")
  common(ev)
  ev.add_argument("--split", default="test", help="dataset split (default: test)")
  ev.add_argument("--watch", action="store_true",
                  help="keep evaluating every new checkpoint as it appears")
  ev.add_argument("--interval", type=float, default=10.0, help="--watch: seconds between polls")
  ev.add_argument("--timeout", type=float, default=None,
                  help="--watch: stop after this many seconds without a new checkpoint")

  pr = commands.add_parser("predict", help="classify image files")
  common(pr)
  pr.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
  pr.add_argument("--top-k", type=int, default=5, help="classes to show per image")
  return parser


def _format_eval(r: dict) -> str:
  return (f"step {r['step']}: top-1 {100 * r['top1']:.2f}%  top-5 {100 * r['top5']:.2f}%  "
          f"loss {r['loss']:.4f}  ({r['num_examples']} examples)")


def _run(args) -> None:
  from eval import classification, predict
  if args.command == "predict":
    results = predict.predict(args.workdir, args.images, args.step, args.top_k)
    if args.json:
      print(json.dumps({"predictions": results}))
    for r in results if not args.json else []:
      best = ", ".join(f"{t['class']} {100 * t['prob']:.1f}%" for t in r["top"])
      print(f"{r['file']}: {best}")
  elif args.watch:
    if args.step is not None:
      raise ValueError("--watch evaluates every checkpoint; it does not take --step")
    for r in classification.watch(args.workdir, args.split, args.interval, args.timeout):
      print(json.dumps(r) if args.json else _format_eval(r), flush=True)
  else:
    r = classification.evaluate_checkpoint(args.workdir, args.step, args.split)
    print(json.dumps(r) if args.json else _format_eval(r))


def main(argv: list[str]) -> int:
  if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
    argv = ["evaluate", *argv]
  args = _parser().parse_args(argv)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  from absl import logging
  logging.set_verbosity(logging.ERROR)  # orbax warns that read-only managers do not save
  from jcnn import checkpoint
  try:
    _run(args)
  except (ValueError, OSError, checkpoint.CheckpointError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
