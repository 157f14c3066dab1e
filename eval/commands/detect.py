"""Scores a detection run: PASCAL VOC AP per class and COCO AP of a checkpoint.

The split is one of the run's dataset (--split), or a folder or file of annotated images
with the run's classes (--data voc_dir:DIR, coco_json:FILE). Boxes are scored in the
images' original pixels: VOC AP at IoU 0.5 (area under the curve, and VOC2007's
11-point), COCO AP@[.5:.95], AP50, AP75 and AP by object size.

Examples:
  python -m eval detect --workdir runs/frcnn_digits
  python -m eval detect --workdir runs/frcnn_voc --data voc_dir:~/VOCdevkit/VOC2007 --json
"""
import json
import math

from eval import score

COCO_KEYS = ("coco_ap", "coco_ap50", "coco_ap75", "coco_ap_small", "coco_ap_medium",
             "coco_ap_large")


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step to restore (default: the latest)")
  parser.add_argument("--split", default="test",
                      help="split of the run's dataset (default: test)")
  parser.add_argument("--data", default=None, metavar="KIND:PATH",
                      help="evaluate on these annotated images instead of --split: "
                      "voc_dir:DIR or coco_json:FILE, with the run's classes")
  parser.add_argument("--json", action="store_true",
                      help="print exactly one JSON object with keys map50, map50_11pt, "
                      f"{', '.join(COCO_KEYS)}, per_class, num_images, step, split")


def evaluate(workdir: str, step: int | None = None, split: str = "test",
             data: str | None = None) -> dict:
  """The --json report: mean and per-class VOC AP, COCO AP, images, step and split.

  per_class maps every class name to {"ap50", "ap50_11pt"}: None where the split has
  no (non-difficult) box of that class.
  """
  from jcnn import tasks
  run = score.open_run(workdir, tasks.detectors(), "detect")
  config, info = run.config, run.dataset_info
  task = tasks.get(config.task)
  class_names = tuple(info["class_names"])
  if data is None:
    images = task.load_split(config, split)
  else:
    images = task.load_split_from(config, data)
    if tuple(images.class_names) != class_names:
      raise ValueError(f"--data {data} has classes {tuple(images.class_names)}; the run "
                       f"detects {class_names} (the same classes in the same order)")
  restored = task.restore(run, step)
  evaluator = task.evaluator(run, restored, images, data or "eval")
  metrics = evaluator.run(restored.variables)
  return {"map50": _number(metrics["map50"]), "map50_11pt": _number(metrics["map50_11pt"]),
          **{k: _number(metrics[k]) for k in COCO_KEYS},
          "per_class": {name: {"ap50": _number(metrics.get(f"ap50/{name}")),
                               "ap50_11pt": _number(metrics.get(f"ap50_11pt/{name}"))}
                        for name in class_names},
          "num_images": int(metrics["num_images"]), "step": restored.step,
          "split": data if data is not None else split}


def _number(value) -> float | None:
  """NaN and missing become None: the JSON stays strict."""
  return None if value is None or not math.isfinite(value) else float(value)


def _defined(coco_value: float | None) -> float | None:
  """pycocotools' -1 (no box of that size) shown as missing."""
  return None if coco_value is None or coco_value < 0 else coco_value


def format_report(r: dict) -> str:
  """A table of VOC AP per class and its mean, then the COCO numbers."""
  cell = lambda v: "     -" if v is None else f"{v:6.4f}"
  width = max([len("class"), len("mean"), *(len(n) for n in r["per_class"])])
  lines = [f"step {r['step']}, {r['split']}: {r['num_images']} images",
           f"{'class':<{width}}  AP (area)  AP (11-pt)"]
  for name, ap in r["per_class"].items():
    lines.append(f"{name:<{width}}     {cell(ap['ap50'])}      {cell(ap['ap50_11pt'])}")
  lines.append(f"{'mean':<{width}}     {cell(r['map50'])}      {cell(r['map50_11pt'])}")
  lines.append("COCO  " + "  ".join(
      f"{label} {cell(_defined(r[key])).strip()}" for label, key in zip(
          ("AP", "AP50", "AP75", "APs", "APm", "APl"), COCO_KEYS)))
  return "\n".join(lines)


def run(args) -> None:
  report = evaluate(args.workdir, args.step, args.split, args.data)
  print(json.dumps(report, allow_nan=False) if args.json else format_report(report))
