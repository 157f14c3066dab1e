"""Test-time CNN cost per image: R-CNN (every warped proposal through the net) against
SPP-net (one conv pass over the image, then a spatial pyramid pool per proposal).

  JCNN_DATA_DIR=<data> python benchmarks/rcnn_vs_sppnet.py
  python benchmarks/rcnn_vs_sppnet.py --dataset digits_detection --num-images 5

Both read the same images and the same selective-search proposals (fast mode), and the
same small_vgg weights (the digit detectors' backbone; its cost does not depend on
training, so it is freshly initialised): R-CNN warps each proposal with 4 px of context
to the net's 32×32 input and runs conv1-conv4 and the global pooling on every crop;
SPP-net runs conv1-conv4 once over the 128×128 canvas (stride 8) and pools each
proposal's projection with the {6, 3, 2, 1} pyramid (50 bins). The warp (R-CNN) and
selective search (both) are timed on their own. Each timing is the median of
--repeats calls after a warm-up call, so compilation is excluded; proposals are padded
to a multiple of 256 so that images share compilations. One JSON line per image, then
a summary line. Run on a quiet machine.
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jcnn import detection, models  # noqa: E402
from jcnn.data import detection as det_data  # noqa: E402
from jcnn.detection import rcnn  # noqa: E402
from jcnn.models.features import run_to_feature  # noqa: E402

FEATURE, STRIDE, CROP, CONTEXT = "relu4", 8, 32, 4
LEVELS = (6, 3, 2, 1)
BUCKET = 256


def _emit(**fields):
  print(json.dumps(fields), flush=True)


def _median_seconds(fn, repeats):
  jax.block_until_ready(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _padded(boxes):
  count = -(-len(boxes) // BUCKET) * BUCKET
  return np.concatenate([boxes, np.repeat(boxes[:1], count - len(boxes), axis=0)])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--dataset", default="mnist_detection",
                      choices=("mnist_detection", "digits_detection"))
  parser.add_argument("--num-images", type=int, default=10)
  parser.add_argument("--max-proposals", type=int, default=2000)
  parser.add_argument("--min-box-size", type=int, default=8,
                      help="selective search's smallest box side (digits are 16-64 px)")
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args(argv)

  split = det_data.load(args.dataset, "test")
  model = models.create("small_vgg", num_classes=10)
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, CROP, CROP, 1)))

  def conv(x):
    return run_to_feature(model.bind(variables), FEATURE, x)

  rcnn_cnn = jax.jit(lambda crops: conv(crops).mean(axis=(1, 2)))
  spp_conv = jax.jit(conv)
  spp_pool = jax.jit(lambda maps, boxes: detection.roi_spatial_pyramid_pool(
      maps, boxes, STRIDE, LEVELS))
  warp = jax.jit(lambda image, boxes: rcnn.warp_regions(image, boxes, CROP, CONTEXT))

  rows = []
  for i in range(min(args.num_images, len(split))):
    image = split.image(i)
    start = time.perf_counter()
    proposals = detection.selective_search(image[..., 0], "fast",
                                           min_box_size=args.min_box_size)
    search = time.perf_counter() - start
    proposals = proposals[:args.max_proposals]
    boxes = jnp.asarray(_padded(proposals))
    x = jnp.asarray(image, jnp.float32) / 255.0
    crops = warp(x, boxes)
    maps = spp_conv(x[None])
    row = dict(image=i, proposals=len(proposals), padded=int(boxes.shape[0]),
               selective_search_ms=1e3 * search,
               rcnn_warp_ms=1e3 * _median_seconds(lambda: warp(x, boxes), args.repeats),
               rcnn_cnn_ms=1e3 * _median_seconds(lambda: rcnn_cnn(crops), args.repeats),
               sppnet_conv_ms=1e3 * _median_seconds(lambda: spp_conv(x[None]), args.repeats),
               sppnet_pool_ms=1e3 * _median_seconds(lambda: spp_pool(maps, boxes),
                                                    args.repeats))
    row["sppnet_cnn_ms"] = row["sppnet_conv_ms"] + row["sppnet_pool_ms"]
    row["speedup"] = row["rcnn_cnn_ms"] / row["sppnet_cnn_ms"]
    rows.append(row)
    _emit(**{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})

  def median(key):
    return round(statistics.median(r[key] for r in rows), 3)

  _emit(summary=True, dataset=args.dataset, images=len(rows), devices=str(jax.devices()[0]),
        cpus=os.cpu_count(), **{f"median_{k}": median(k) for k in (
            "proposals", "selective_search_ms", "rcnn_warp_ms", "rcnn_cnn_ms",
            "sppnet_conv_ms", "sppnet_pool_ms", "sppnet_cnn_ms", "speedup")})


if __name__ == "__main__":
  main()
