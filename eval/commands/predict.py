"""Classify images, or detect objects in them, with a trained checkpoint.

IMAGE is a file or a folder: a folder gives every image in it and in its sub-folders
(not following symlinked folders; hidden files skipped), in sorted order.

Classification runs print the top-k classes of each image; --output FILE.csv or
FILE.json writes them instead, one row per image (file, then class, label and
probability of each of the top k), as timm's inference.py does. Detection runs print
each image's boxes above --score_threshold and draw them to --output/<name>.png
(default ./predictions). Nothing is ever written inside the run folder.

Examples:
  python -m eval predict --workdir runs/lenet5_digits digit.png
  python -m eval predict --workdir runs/lenet5_digits photos/ --output results.csv
  python -m eval predict --workdir runs/frcnn_digits street.jpg --output boxes/
"""
import csv
import json
import os
import pathlib

from eval import classify_files, detect_files, outputs
from jcnn import runs
from jcnn.data.image_folder import IMAGE_SUFFIXES

_RESULT_FORMATS = (".csv", ".json")


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step to restore (default: the latest)")
  parser.add_argument("images", nargs="+", metavar="IMAGE",
                      help="image files, or folders searched recursively")
  parser.add_argument("--top_k", type=int, default=5,
                      help="classification: classes to show per image")
  parser.add_argument("--output", default=None, metavar="PATH",
                      help="classification: a results file, FILE.csv or FILE.json (default: "
                      "print); detection: the folder for the drawings (default: ./predictions)")
  parser.add_argument("--score_threshold", type=float, default=0.5,
                      help="detection: lowest score shown (default 0.5)")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _image_files(paths: list[str]) -> list[str]:
  """`paths` with each folder replaced by the images under it, sorted."""
  files = []
  for path in paths:
    if not os.path.isdir(path):
      files.append(path)
      continue
    found = []
    for folder, subfolders, names in os.walk(path):  # symlinked folders are not entered
      subfolders[:] = [s for s in subfolders if not s.startswith(".")]
      found += [os.path.join(folder, n) for n in names if not n.startswith(".")
                and os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES]
    if not found:
      raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {path}")
    files += sorted(found)
  return files


def run(args) -> None:
  from jcnn import tasks
  images = _image_files(args.images)
  if runs.Run.open(args.workdir).config.task in tasks.detectors():
    _detect(args, images)
    return
  target = None
  if args.output is not None:
    if not args.output.lower().endswith(_RESULT_FORMATS):
      raise ValueError(f"--output {args.output}: a classification run writes its results "
                       "to a .csv or .json file")
    target = outputs.outside_run(args.output, args.workdir)
  results = classify_files.predict(args.workdir, images, args.step, args.top_k)
  if target is not None:
    _write_results(results, target)
  if args.json:
    print(json.dumps({"predictions": results}))
  elif target is not None:
    print(f"{len(results)} images -> {args.output}")
  else:
    for r in results:
      best = ", ".join(f"{t['class']} {100 * t['prob']:.1f}%" for t in r["top"])
      print(f"{r['file']}: {best}")


def _write_results(results: list[dict], path: pathlib.Path) -> None:
  """One row per image: CSV columns file, class_1, label_1, prob_1, ...; JSON a list of
  {"file", "top": [{"label", "class", "prob"}, ...]}, as --json prints them."""
  path.parent.mkdir(parents=True, exist_ok=True)
  if path.suffix.lower() == ".json":
    path.write_text(json.dumps(results, indent=1) + "\n")
    return
  k = max(len(r["top"]) for r in results)
  with path.open("w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["file", *(f"{c}_{i}" for i in range(1, k + 1)
                               for c in ("class", "label", "prob"))])
    for r in results:
      writer.writerow([r["file"], *(v for t in r["top"]
                                    for v in (t["class"], t["label"], f"{t['prob']:.6g}"))])


def _detect(args, images: list[str]) -> None:
  output = "predictions" if args.output is None else args.output
  if output.lower().endswith(_RESULT_FORMATS):
    raise ValueError(f"--output {output}: a detection run draws into a folder; results "
                     "files are for classification runs (use --json for the boxes)")
  results = detect_files.predict(args.workdir, images, output, args.step,
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
