"""Test-time CNN cost per image: R-CNN (every proposal warped and run through the whole
network) against SPP-net (the conv layers once over the image, then a pyramid pool and
the fc layers per proposal), through the two pipelines' own feature functions
(`jcnn.tasks.rcnn.RCNN.feature_fn`, `jcnn.tasks.sppnet.SPPNet.feature_fn`).

  JCNN_DATA_DIR=<data> python benchmarks/rcnn_vs_sppnet.py             # the MNIST configs
  JCNN_DATA_DIR=<data> python benchmarks/rcnn_vs_sppnet.py --setup photos

Setups:
  mnist   train/configs/rcnn_mnist.py and sppnet_mnist.py as they are: LeNet-5, 128×128
          canvases, 32×32 warps, fast selective search (boxes of 8 px and up).
  photos  the paper's regime on the raccoon photos: the longer side at 480 px, quality
          selective search with up to 2,000 proposals, small_vgg (3×3 conv stacks, conv
          layers dominate) warped to 64×64 with 8 px of context for R-CNN; SPP-net pools
          its relu4 (stride 8) with {6, 3, 2, 1} into a 256-256 fc head.

Both pipelines read the same images and the same proposals; the weights are freshly
initialised (the cost does not depend on training). Each timing is the median of
--repeats calls after a warm-up call, so compilation is excluded (each image's
proposal count compiles anew, unpadded), and each call computes what the SVMs and
regressors read (R-CNN: fc7's and pool5's places; SPP-net: fc7 and the
pyramid). Beside the whole CNN, the conv layers alone (the paper's "conv time": R-CNN's
on every warped proposal, SPP-net's once per image). Selective search is timed on its
own. One JSON line per image, then a summary
line. Run on a quiet machine.
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
import numpy as np  # noqa: E402

from jcnn import tasks  # noqa: E402
from jcnn.data import detection as det_data  # noqa: E402
from jcnn.data.pipeline import _normaliser  # noqa: E402
from jcnn.detection import proposal_cache, rcnn  # noqa: E402
from jcnn.models.features import run_to_feature  # noqa: E402
from train.configs import rcnn_mnist, sppnet_mnist  # noqa: E402

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


def configs(setup: str):
  """(R-CNN config, SPP-net config, images) of a setup."""
  r, s = rcnn_mnist.get_config(), sppnet_mnist.get_config()
  if setup == "mnist":
    return r, s, det_data.load("mnist_detection", "test")
  for c in (r, s):
    c.model = "small_vgg"
    c.search.strategy, c.search.min_box_size = "quality", 16
  r.warp_size, r.context = 64, 8
  r.feature, r.regression_feature = "relu4", "relu4"
  s.conv_feature, s.head = "relu4", (256, 256)
  return r, s, det_data.load("raccoon", "test")


def _resized(image, longer):
  """The image with its longer side at `longer` px (no resize when 0)."""
  if not longer:
    return image
  from skimage.transform import resize
  scale = longer / max(image.shape[:2])
  size = (round(image.shape[0] * scale), round(image.shape[1] * scale))
  return (resize(image, size, preserve_range=True, anti_aliasing=True)).astype(np.uint8)


def _conv_layers(name, config, model):
  """The pipeline's conv layers alone (the paper's "conv time"): R-CNN's on every warped
  proposal up to pool5's place, SPP-net's once over the image."""
  if name == "rcnn":
    def conv(variables, images, boxes, index):
      crops = rcnn.warp_regions(images, boxes, config.warp_size, config.context,
                                config.square, image_index=index)
      return run_to_feature(model.bind(variables), config.regression_feature, crops)
  else:
    def conv(variables, images, boxes, index):
      return model.apply(variables, images,
                         method=lambda m, x: run_to_feature(m.body, m.feature, x))
  return conv


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--setup", default="mnist", choices=("mnist", "photos"))
  parser.add_argument("--num-images", type=int, default=10)
  parser.add_argument("--max-proposals", type=int, default=2000)
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args(argv)

  rcnn_config, spp_config, split = configs(args.setup)
  longer = 480 if args.setup == "photos" else 0
  first = _resized(split.image(0), longer)
  classes = {"class_names": list(split.class_names), "mean": [0.5] * first.shape[-1],
             "std": [0.25] * first.shape[-1]}
  functions = {}
  for name, config in (("rcnn", rcnn_config), ("sppnet", spp_config)):
    task = tasks.get(config.task)
    shape = ([config.warp_size, config.warp_size, first.shape[-1]] if name == "rcnn"
             else list(first.shape))
    model = task.model(config, {**classes, "image_shape": shape})
    variables = model.init(jax.random.PRNGKey(0), np.zeros((1, *shape), np.float32))
    functions[f"{name}_cnn"] = (jax.jit(task.feature_fn(config, model)), variables)
    functions[f"{name}_conv"] = (jax.jit(_conv_layers(name, config, model)), variables)

  settings = dict(rcnn_config.search.to_dict(), max_proposals=args.max_proposals)
  rows = []
  for i in range(min(args.num_images, len(split))):
    image = _resized(split.image(i), longer)
    start = time.perf_counter()
    proposals = proposal_cache.search(image, settings)
    search = time.perf_counter() - start
    boxes = np.asarray(proposals, np.float32).reshape(-1, 4)
    index = np.zeros(len(boxes), np.int32)
    x = _normaliser(image.shape, classes["mean"], classes["std"])(image[None])
    row = dict(image=i, size=list(image.shape[:2]), proposals=len(proposals),
               selective_search_ms=1e3 * search)
    for name, (run, variables) in functions.items():
      row[f"{name}_ms"] = 1e3 * _median_seconds(
          lambda: run(variables, x, boxes, index), args.repeats)
    row["speedup"] = row["rcnn_cnn_ms"] / row["sppnet_cnn_ms"]
    row["conv_speedup"] = row["rcnn_conv_ms"] / row["sppnet_conv_ms"]
    rows.append(row)
    _emit(**{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})

  def median(key):
    return round(statistics.median(r[key] for r in rows), 3)

  _emit(summary=True, setup=args.setup, images=len(rows), devices=str(jax.devices()[0]),
        cpus=os.cpu_count(), **{f"median_{k}": median(k) for k in (
            "proposals", "selective_search_ms", "rcnn_cnn_ms", "sppnet_cnn_ms", "speedup",
            "rcnn_conv_ms", "sppnet_conv_ms", "conv_speedup")})


if __name__ == "__main__":
  main()
