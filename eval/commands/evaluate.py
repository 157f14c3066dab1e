"""Scores a checkpoint on a split with its task's evaluator (the default command).

Classification runs report top-1, top-5 and loss.
"""
import json

from eval import score
from jcnn import runs


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step to restore (default: the latest)")
  parser.add_argument("--split", default="test", help="dataset split (default: test)")
  parser.add_argument("--json", action="store_true",
                      help="print exactly one JSON object (one per line with --watch) with "
                      "keys top1, top5, loss, step, num_examples")
  parser.add_argument("--watch", action="store_true",
                      help="keep evaluating every new checkpoint as it appears")
  parser.add_argument("--interval", type=float, default=10.0,
                      help="--watch: seconds between polls (default 10)")
  parser.add_argument("--timeout", type=float, default=None,
                      help="--watch: stop after this many seconds without a new checkpoint")


def _format(r: dict) -> str:
  if not {"top1", "top5", "loss"} <= r.keys():  # another task's metrics
    return f"step {r['step']}: " + "  ".join(f"{k} {v:.4f}" for k, v in r.items()
                                              if isinstance(v, float))
  return (f"step {r['step']}: top-1 {100 * r['top1']:.2f}%  top-5 {100 * r['top5']:.2f}%  "
          f"loss {r['loss']:.4f}  ({r['num_examples']} examples)")


def run(args) -> None:
  if args.watch:
    if args.step is not None:
      raise ValueError("--watch evaluates every checkpoint; it does not take --step")
    for r in score.watch(args.workdir, args.split, args.interval, args.timeout):
      print(json.dumps(r) if args.json else _format(r), flush=True)
  else:
    r = score.score(runs.Run.open(args.workdir), args.step, args.split)
    print(json.dumps(r) if args.json else _format(r))
