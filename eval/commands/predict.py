"""Classify image files, or detect objects in them, with a trained checkpoint.

Classification runs print the top-k classes of each file. Detection runs print each
file's boxes above --score-threshold and draw them to --output/<name>.png (default
./predictions; never inside the run folder).
"""
import json

from eval import classify_files, detect_files
from jcnn import runs


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step to restore (default: the latest)")
  parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
  parser.add_argument("--top-k", type=int, default=5,
                      help="classification: classes to show per image")
  parser.add_argument("--output", default="predictions",
                      help="detection: folder for the drawings (default: ./predictions)")
  parser.add_argument("--score-threshold", type=float, default=0.5,
                      help="detection: lowest score shown (default 0.5)")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def run(args) -> None:
  from jcnn import tasks
  if runs.Run.open(args.workdir).config.task in tasks.detectors():
    _detect(args)
    return
  results = classify_files.predict(args.workdir, args.images, args.step, args.top_k)
  if args.json:
    print(json.dumps({"predictions": results}))
    return
  for r in results:
    best = ", ".join(f"{t['class']} {100 * t['prob']:.1f}%" for t in r["top"])
    print(f"{r['file']}: {best}")


def _detect(args) -> None:
  results = detect_files.predict(args.workdir, args.images, args.output, args.step,
                                 args.score_threshold)
  if args.json:
    print(json.dumps({"predictions": results}))
    return
  for r in results:
    top = ", ".join(f"{c} {s:.2f}" for c, s in zip(r["classes"][:5], r["scores"][:5]))
    more = ", ..." if len(r["classes"]) > 5 else ""
    count = len(r["boxes"])
    print(f"{r['file']}: {count} box{'es' if count != 1 else ''}"
          f"{f' ({top}{more})' if count else ''} -> {r['drawing']}")
