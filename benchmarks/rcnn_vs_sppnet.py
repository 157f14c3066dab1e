"""Test-time CNN cost per image: R-CNN (every proposal warped and run through the whole
network) against SPP-net (the conv layers once over the image, then a pyramid pool and
the fc layers per proposal), through the two pipelines' own feature functions
(`jcnn.tasks.rcnn.RCNN.feature_fn`, `jcnn.tasks.rcnn.SPPNet.feature_fn`).

  JCNN_DATA_DIR=<data> python benchmarks/rcnn_vs_sppnet.py             # the MNIST configs
  JCNN_DATA_DIR=<data> python benchmarks/rcnn_vs_sppnet.py --setup photos
  JCNN_DATA_DIR=<data> python benchmarks/rcnn_vs_sppnet.py --setup paper --num-images 3 \
      --repeats 2                                           # ~2 min per image on 2 cores

Setups:
  mnist   train/configs/rcnn_mnist.py and sppnet_mnist.py as they are: LeNet-5, 128×128
          canvases, 32×32 warps, fast selective search (boxes of 8 px and up).
  photos  a CPU-sized stand-in on the raccoon photos: the longer side at 480 px, quality
          selective search with up to 2,000 proposals, small_vgg (3×3 conv stacks, conv
          layers dominate) warped to 64×64 with 8 px of context for R-CNN; SPP-net pools
          its relu4 (stride 8) with {6, 3, 2, 1} into a 256-256 fc head.
  paper   the SPP-net paper's comparison (He et al. 2014, Table 10: R-CNN with the same
          ZF-5 as SPP-net, single scale): raccoon photos with the shorter side at 688 px,
          selective search as rcnn_alexnet_voc07 runs it (fast mode, up to 2,000
          windows); R-CNN warps each window to 224×224 with 16 px of context through the
          whole ZF-5 (fc7 and pool5 read); SPP-net is sppnet_zf_voc07's network (conv5
          once, {6, 3, 2, 1}, fc6/fc7 of 4,096). Both in the calls their pipelines make
          (`rcnn.padded_calls`: feature_batch_size windows, the last call padded to a
          power of two).

Both pipelines read the same images and the same proposals; the weights are freshly
initialised (the cost does not depend on training). Each timing is the median of
--repeats rounds that run every function once in turn, after a warm-up call of each, so
compilation is excluded (mnist and photos pass each image's windows unpadded in one
call, compiled anew) and a neighbour's load falls on all of an image's timings alike;
each call computes what the SVMs and regressors read (R-CNN: fc7's and pool5's places;
SPP-net: fc7 and the pyramid). Beside the whole CNN, each pipeline up to its pool5 (the
paper's "conv time": R-CNN's conv layers on every warped proposal; SPP-net's conv layers
once per image and the pyramid of every window), and SPP-net's conv layers alone.
Selective search is timed on its own. One JSON line per image, then a summary line. Run on a quiet machine.
"""
import argparse
import functools
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import store  # noqa: E402
from jcnn import tasks  # noqa: E402
from jcnn.data.pipeline import normaliser  # noqa: E402
from jcnn.detection import data as det_data  # noqa: E402
from jcnn.detection import proposal_cache, rcnn  # noqa: E402
from jcnn.models.sppnet import SPPNet  # noqa: E402
from jcnn.models.features import run_to_feature  # noqa: E402
from jcnn.tasks.rcnn import padded_calls  # noqa: E402
from train.configs import rcnn_alexnet_voc07, rcnn_mnist, sppnet_mnist, sppnet_zf_voc07  # noqa: E402,E501

def _emit(**fields):
  store.emit(fields)


def _interleaved_medians(calls: dict, repeats: int) -> dict:
  """{name: median seconds} of `calls` ({name: (fn, warm_up)}), timed in rounds that run
  every fn once in turn: the whole CNN and its part up to pool5 are paired. Timed one
  after the other, their medians once came out in the wrong order (pool5 > whole)."""
  for _, warm_up in calls.values():
    jax.block_until_ready(warm_up())
  times = {name: [] for name in calls}
  for _ in range(repeats):
    for name, (fn, _) in calls.items():
      start = time.perf_counter()
      jax.block_until_ready(fn())
      times[name].append(time.perf_counter() - start)
  return {name: statistics.median(t) for name, t in times.items()}


def configs(setup: str):
  """(R-CNN config, SPP-net config, images) of a setup."""
  if setup == "paper":
    r, s = rcnn_alexnet_voc07.get_config(), sppnet_zf_voc07.get_config()
    r.model, r.warp_size, r.regression_feature = "zfnet", 224, "pool5"
    s.scales = (1.0,)   # the photo is loaded at the paper's single scale
    return r, s, det_data.load("raccoon", "test")
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


# Each setup's image size: (side, which side) or None for the images as they are.
SIZES = {"mnist": None, "photos": (480, max), "paper": (688, min)}


def _resized(image, size):
  """The image with its longer (`max`) or shorter (`min`) side at `size[0]` px."""
  if size is None:
    return image
  from skimage.transform import resize
  scale = size[0] / size[1](image.shape[:2])
  size = (round(image.shape[0] * scale), round(image.shape[1] * scale))
  return (resize(image, size, preserve_range=True, anti_aliasing=True)).astype(np.uint8)


def _to_pool5(name, config, model):
  """The pipeline up to its pool5 (the paper's "conv time"): R-CNN's conv layers on every
  warped proposal, SPP-net's conv layers once over the image and every window's
  pyramid."""
  if name == "rcnn":
    def run(variables, images, boxes, index):
      crops = rcnn.warp_regions(images, boxes, config.warp_size, config.context,
                                config.square, image_index=index)
      return run_to_feature(model.bind(variables), config.regression_feature, crops)
  else:
    def run(variables, images, boxes, index):
      return model.apply(variables, {"images": images, "boxes": boxes, "index": index},
                         method=SPPNet.pooled)
  return run


def _conv_once(model):
  """SPP-net's conv layers alone, once over the image."""
  def run(variables, images, boxes, index):
    return model.apply(variables, images,
                       method=lambda m, x: run_to_feature(m.body, m.feature, x))
  return run


def _in_calls(run, size):
  """`run` over the windows in the pipelines' calls (`rcnn.padded_calls`), or all in one
  unpadded call when `size` is None; and a warm-up that compiles every call's shape."""
  if size is None:
    return run, run

  def calls(variables, x, boxes, index):
    return [run(variables, x, b, i) for b, i, _ in padded_calls(boxes, index, size)]

  def warm_up(variables, x, boxes, index):
    shapes = {len(b): (b, i) for b, i, _ in padded_calls(boxes, index, size)}
    return [run(variables, x, b, i) for b, i in shapes.values()]

  return calls, warm_up


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--setup", default="mnist", choices=tuple(SIZES))
  parser.add_argument("--num-images", type=int, default=10)
  parser.add_argument("--max-proposals", type=int, default=2000)
  parser.add_argument("--repeats", type=int, default=5)
  store.add_save_flag(parser, "rcnn_vs_sppnet.jsonl")
  args = parser.parse_args(argv)
  store.save_to(args.save)

  rcnn_config, spp_config, split = configs(args.setup)
  size = SIZES[args.setup]
  first = _resized(split.image(0), size)
  classes = {"class_names": list(split.class_names), "mean": [0.5] * first.shape[-1],
             "std": [0.25] * first.shape[-1]}
  functions = {}
  for name, config in (("rcnn", rcnn_config), ("sppnet", spp_config)):
    task = tasks.get(config.task)
    shape = ([config.warp_size, config.warp_size, first.shape[-1]] if name == "rcnn"
             else list(first.shape))
    model = task.model(config, {**classes, "image_shape": shape})
    variables = jax.jit(model.init)(jax.random.PRNGKey(0),
                                    np.zeros((1, *shape), np.float32))
    calls = config.feature_batch_size if args.setup == "paper" else None
    functions[f"{name}_cnn"] = (*_in_calls(jax.jit(task.feature_fn(config, model)), calls),
                                variables)
    functions[f"{name}_pool5"] = (*_in_calls(jax.jit(_to_pool5(name, config, model)),
                                             calls), variables)
    if name == "sppnet":
      functions["sppnet_conv"] = (jax.jit(_conv_once(model)),) * 2 + (variables,)

  settings = dict(rcnn_config.search.to_dict(), max_proposals=args.max_proposals)
  rows = []
  for i in range(min(args.num_images, len(split))):
    image = _resized(split.image(i), size)
    start = time.perf_counter()
    proposals = proposal_cache.search(image, settings)
    search = time.perf_counter() - start
    boxes = np.asarray(proposals, np.float32).reshape(-1, 4)
    index = np.zeros(len(boxes), np.int32)
    x = normaliser(image.shape, classes["mean"], classes["std"])(image[None])
    row = dict(image=i, size=list(image.shape[:2]), proposals=len(proposals),
               selective_search_ms=1e3 * search)
    calls = {name: (functools.partial(run, variables, x, boxes, index),
                    functools.partial(warm_up, variables, x, boxes, index))
             for name, (run, warm_up, variables) in functions.items()}
    for name, seconds in _interleaved_medians(calls, args.repeats).items():
      row[f"{name}_ms"] = 1e3 * seconds
    row["speedup"] = row["rcnn_cnn_ms"] / row["sppnet_cnn_ms"]
    row["pool5_speedup"] = row["rcnn_pool5_ms"] / row["sppnet_pool5_ms"]
    rows.append(row)
    _emit(**{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})

  def median(key):
    return round(statistics.median(r[key] for r in rows), 3)

  _emit(summary=True, setup=args.setup, images=len(rows), devices=str(jax.devices()[0]),
        cpus=os.cpu_count(), **{f"median_{k}": median(k) for k in (
            "proposals", "selective_search_ms", "rcnn_cnn_ms", "sppnet_cnn_ms", "speedup",
            "rcnn_pool5_ms", "sppnet_pool5_ms", "pool5_speedup", "sppnet_conv_ms")})


if __name__ == "__main__":
  main()
