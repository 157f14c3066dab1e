"""Classify image files with a trained checkpoint."""
import json

from eval import classify_files


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step to restore (default: the latest)")
  parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
  parser.add_argument("--top-k", type=int, default=5, help="classes to show per image")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def run(args) -> None:
  results = classify_files.predict(args.workdir, args.images, args.step, args.top_k)
  if args.json:
    print(json.dumps({"predictions": results}))
    return
  for r in results:
    best = ", ".join(f"{t['class']} {100 * t['prob']:.1f}%" for t in r["top"])
    print(f"{r['file']}: {best}")
