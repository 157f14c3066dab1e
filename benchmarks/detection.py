"""Speed of NMS and selective search, and selective search's recall on the raccoon set.

  python benchmarks/detection.py                          # all (quality mode takes long)
  python benchmarks/detection.py --only nms
  python benchmarks/detection.py --only selective_search --modes fast --num-images 20

Prints one JSON line per measurement: NMS times (eager `nms` and jitted `nms_padded`) for
2,000 and 12,000 boxes; per image and per mode, selective search's time and the recall of
the raccoon boxes (IoU >= 0.5) by its top 100 / 500 / 2,000 proposals, then a summary.
The raccoon set is read from $JCNN_DATA_DIR, else ../shared/data beside the repository.
"""
import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks import store  # noqa: E402
from jcnn import detection  # noqa: E402

TOP_K = (100, 500, 2000)


def _emit(**fields):
  store.emit(fields)


def _random_boxes(n, kind, rng):
  """RPN-like boxes on a 1000 x 600 image: uniform, or clustered on 30 objects."""
  sizes = np.exp(rng.uniform(np.log(16), np.log(512), (n, 2)))
  if kind == "uniform":
    centers = rng.uniform((0, 0), (1000, 600), (n, 2))
  else:
    objects = rng.uniform((0, 0), (1000, 600), (30, 2))
    centers = objects[rng.integers(0, 30, n)] + rng.normal(0, 10, (n, 2))
    sizes = np.clip(sizes * 0.2 + 100, 16, 512)
  boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
  return boxes.astype(np.float32), rng.random(n).astype(np.float32)


def _median_time(fn, repeats):
  jax.block_until_ready(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def bench_nms(sizes, repeats, iou_threshold=0.7):
  rng = np.random.default_rng(0)
  for n in sizes:
    for kind in ("uniform", "clustered"):
      boxes, scores = _random_boxes(n, kind, rng)
      kept = detection.nms(boxes, scores, iou_threshold)
      _emit(bench="nms", mode="eager", num_boxes=n, boxes=kind, kept=int(len(kept)),
            seconds=_median_time(lambda: detection.nms(boxes, scores, iou_threshold),
                                 repeats))
      for max_output in sorted({n, min(n, 2000)}):
        jitted = jax.jit(lambda b, s, m=max_output: detection.nms_padded(
            b, s, iou_threshold, m))
        b, s = jax.device_put(boxes), jax.device_put(scores)
        _emit(bench="nms", mode="jit", num_boxes=n, boxes=kind, max_output=max_output,
              kept=int(jitted(b, s)[1]), seconds=_median_time(lambda: jitted(b, s), repeats))


def bench_selective_search(data_dir, modes, num_images):
  records = detection.load_raccoon(data_dir)[:num_images]
  for mode in modes:
    times, hits, total, counts = [], np.zeros(len(TOP_K)), 0, []
    for record in records:
      image = np.asarray(Image.open(record["image_path"]).convert("RGB"))
      start = time.perf_counter()
      proposals = detection.selective_search(image, mode)
      times.append(time.perf_counter() - start)
      iou = np.asarray(detection.box_iou(record["boxes"], proposals))
      found = [int(np.sum(iou[:, :k].max(axis=1, initial=0.0) >= 0.5)) for k in TOP_K]
      hits += found
      total += len(record["boxes"])
      counts.append(len(proposals))
      _emit(bench="selective_search_image", mode=mode,
            image=pathlib.Path(record["image_path"]).name, size=list(image.shape[:2]),
            seconds=round(times[-1], 3), proposals=len(proposals), boxes=len(record["boxes"]),
            **{f"found@{k}": f for k, f in zip(TOP_K, found)})
    _emit(bench="selective_search", mode=mode, images=len(records), boxes=total,
          seconds_per_image=float(np.mean(times)), median_seconds=float(np.median(times)),
          mean_proposals=float(np.mean(counts)),
          **{f"recall@{k}": float(h / total) for k, h in zip(TOP_K, hits)})


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--only", choices=("nms", "selective_search"))
  parser.add_argument("--nms-sizes", type=int, nargs="+", default=(2000, 12000))
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--modes", nargs="+", default=("fast", "quality"),
                      choices=("single", "fast", "quality"))
  parser.add_argument("--num-images", type=int, default=200)
  default_data = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
  parser.add_argument("--data-dir", default=os.environ.get("JCNN_DATA_DIR", default_data))
  store.add_save_flag(parser, "detection.jsonl")
  args = parser.parse_args()
  store.save_to(args.save)
  _emit(bench="machine", backend=jax.default_backend(), devices=str(jax.devices()),
        cpus=os.cpu_count(), load_average=list(os.getloadavg()))
  if args.only in (None, "nms"):
    bench_nms(args.nms_sizes, args.repeats)
  if args.only in (None, "selective_search"):
    bench_selective_search(args.data_dir, args.modes, args.num_images)


if __name__ == "__main__":
  main()
