"""Faster R-CNN's speed beside its backbone alone, and the RPN beside selective search.

  python benchmarks/faster_rcnn.py                                   # the mnist config
  python benchmarks/faster_rcnn.py --config train/configs/faster_rcnn_mnist.py \
      --workdir runs/faster_rcnn_mnist --seconds 10 --ss-images 20
  python benchmarks/faster_rcnn.py --config train/configs/faster_rcnn_vgg16_voc07.py \
      --dataset raccoon --seconds 40 --ss-images 10     # the paper's VGG-16, ~5 min
  python benchmarks/faster_rcnn.py --config train/configs/faster_rcnn_vgg16_voc07.py \
      --dataset raccoon --input 600x1000 --dtype bfloat16   # the GPU table's setting

--dataset runs a config on another dataset (its train and test splits) with the
config's resize rule, e.g. the VOC paper configs on the raccoon photos when VOC is not
prepared. --input HxW pads to H×W instead of the config's max_size² square and keeps
the images whose resized content fits (600x1000: the landscape ones, the paper's
typical VOC input). --dtype computes in bfloat16 (jcnn.precision; parameters, losses and
box post-processing stay float32) on both sides of every ratio.

On the same input batches (real MNIST-detection test canvases, or the config's dataset),
in one process, one JSON line each:
  - inference ms/image: the whole detector (RPN, NMS, RoI pooling, head, per-class NMS)
    against the backbone's forward pass alone;
  - train images/s: the detector's train step (targets, sampling, four losses, Adam)
    against a train step of the backbone alone (its features' mean as the loss, Adam);
  - proposals ms/image: the RPN (backbone + RPN head + decode + NMS, one jit), and the
    RPN on the backbone's features it shares with the detector (its own cost, the
    paper's "10 ms"), against `selective_search(..., "fast")` on the same images;
each with its ratio. The detector and the backbone are timed in alternating calls, so a
neighbour's load on a shared machine falls on both sides of a ratio. With --workdir the
run's trained weights are used (proposal counts after NMS depend on them), else a fresh
initialisation.
"""
import argparse
import dataclasses
import importlib.util
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from benchmarks import store  # noqa: E402
from jcnn import detection, parallel, precision, runs, runtime, tasks  # noqa: E402
from jcnn import state as state_lib  # noqa: E402
from jcnn.detection import data as det_data  # noqa: E402
from jcnn.tasks import detection as detection_task  # noqa: E402


def _emit(**fields):
  store.emit(fields)


def _config(path):
  spec = importlib.util.spec_from_file_location("bench_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def _time(fn):
  start = time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - start


def _rate(fn, seconds):
  """Median seconds per call over `seconds` of calls (after one warm-up call)."""
  return _rates(fn, seconds=seconds)[0]


def _rates(*fns, seconds):
  """Median seconds per call of each of `fns`, called in turn for `seconds` (at least 3
  rounds, after one warm-up call each): a neighbour's load falls on all of them alike."""
  for fn in fns:
    jax.block_until_ready(fn())
  times, spent = [[] for _ in fns], 0.0
  while spent < seconds or len(times[0]) < 3:
    for fn, t in zip(fns, times):
      t.append(_time(fn))
      spent += t[-1]
  return [statistics.median(t) for t in times]


def _shape(text):
  """"600x1000" -> (600, 1000)."""
  try:
    h, w = (int(v) for v in text.lower().split("x"))
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected HxW, e.g. 600x1000, got {text!r}") from None
  return h, w


def _fitting(split, config, shape):
  """The images of `split` whose resized content fits `shape` (H, W)."""
  records = [r for r in split.records if all(
      side <= limit for side, limit in zip(det_data.resized_size(
          r["height"], r["width"], min_size=config.min_size, max_size=config.max_size)[1],
          shape))]
  if not records:
    raise SystemExit(f"no image of {split.name}/{split.split} fits {shape[0]}x{shape[1]} "
                     f"after resizing (min_size {config.min_size}, max_size "
                     f"{config.max_size})")
  return dataclasses.replace(split, records=records)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="train/configs/faster_rcnn_mnist.py")
  parser.add_argument("--workdir", default=None, help="a trained run of the config")
  parser.add_argument("--dataset", default=None,
                      help="another dataset for the config (its train and test splits)")
  parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
  parser.add_argument("--ss-images", type=int, default=20,
                      help="images for selective search (about 0.1-2 s each)")
  parser.add_argument("--input", type=_shape, default=None, metavar="HxW",
                      help="pad to H×W, keeping the images that fit (default: the "
                           "config's square)")
  parser.add_argument("--dtype", default="float32", choices=precision.COMPUTE_DTYPES,
                      help="compute dtype of both sides (parameters stay float32)")
  store.add_save_flag(parser, "faster_rcnn_mnist.jsonl")
  args = parser.parse_args(argv)
  store.save_to(args.save)
  runtime.quiet()
  runtime.configure()
  config = _config(args.config)
  if args.workdir:  # the weights come from the run, not from its pre-training run
    config = runs.Run.open(args.workdir).config
    config.init_from = ""
  if args.dataset:
    config.dataset, config.train_split, config.eval_split = args.dataset, "train", "test"
  config.dtype = args.dtype
  task = tasks.get("detection")
  mesh = parallel.make_mesh(1)
  training = task.training(config, mesh)
  model, info = training.model, training.dataset_info
  apply = precision.apply_in(args.dtype, model.apply)
  state = state_lib.create(model, optax.adam(1e-4), rng=jax.random.PRNGKey(0),
                           input_shape=task.input_shape(info), apply_fn=apply)
  if args.workdir:
    state = state.replace(params=tasks.restore(runs.Run.open(args.workdir)).variables["params"])
  train_split = task.load_split(config, config.train_split)
  eval_split = task.load_split(config, config.eval_split)
  if args.input:
    train_split, eval_split = (_fitting(split, config, args.input)
                               for split in (train_split, eval_split))
  train_batch, eval_batch = (
      jax.device_put(next(iter(detection_task.batches(
          config, info, split, train=train, padded_shape=args.input))))
      for split, train in ((train_split, True), (eval_split, False)))
  variables = {"params": state.params}
  images, sizes = eval_batch["image"], eval_batch["image_size"]
  n_eval, n_train = images.shape[0], train_batch["image"].shape[0]
  common = dict(run=args.workdir or args.config, dataset=config.dataset,
                model=config.model, input=list(images.shape[1:]), dtype=args.dtype,
                device=jax.devices()[0].device_kind)

  # Inference: the detector against the backbone's forward pass.
  detect = jax.jit(lambda v, x, s: apply(v, x, s))
  features = jax.jit(lambda v, x: apply(v, x, method=model.features))
  detector_s, backbone_s = _rates(lambda: detect(variables, images, sizes),
                                  lambda: features(variables, images), seconds=args.seconds)
  _emit(measure="inference_ms_per_image", batch=n_eval, detector=1e3 * detector_s / n_eval,
        backbone=1e3 * backbone_s / n_eval, ratio=detector_s / backbone_s, **common)

  # Training: the detector's step against a backbone-only step.
  train_step = jax.jit(training.train_step)

  def backbone_loss(params, x):
    return jnp.mean(apply({"params": params}, x, train=True, method=model.features))

  tx = optax.adam(1e-4)

  @jax.jit
  def backbone_step(params, opt_state, x):
    grads = jax.grad(backbone_loss)(params, x)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  holder = {"state": state}

  def detector_train():
    holder["state"], metrics = train_step(holder["state"], train_batch)
    return metrics["loss"]

  body = {"params": state.params}
  opt = {"state": tx.init(body["params"])}

  def backbone_train():
    body["params"], opt["state"] = backbone_step(body["params"], opt["state"],
                                                 train_batch["image"])
    return body["params"]

  detector_train_s, backbone_train_s = _rates(detector_train, backbone_train,
                                              seconds=args.seconds)
  _emit(measure="train_images_per_s", batch=n_train, detector=n_train / detector_train_s,
        backbone=n_train / backbone_train_s, ratio=detector_train_s / backbone_train_s,
        **common)

  # Proposals: the RPN (one jit, from pixels) against selective search, fast mode.
  rpn = jax.jit(lambda v, x, s: apply(v, x, s, method=model.test_proposals)[1])
  rpn_s = _rate(lambda: rpn(variables, images, sizes).boxes, args.seconds)

  def rpn_on_features(v, f, s):  # what the RPN adds to the features it shares
    return apply(v, f, *apply(v, f, method=model.rpn), s,
                 pre_nms_top_n=model.pre_nms_top_n, post_nms_top_n=model.post_nms_top_n,
                 method=model.propose).boxes

  # In the compute dtype already, as the detector's own features: no cast is timed.
  shared = features(variables, images).astype(precision.compute_dtype(args.dtype))
  rpn_own = jax.jit(rpn_on_features)
  rpn_own_s = _rate(lambda: rpn_own(variables, shared, sizes), args.seconds)
  ss_times, ss_counts = [], []
  for i in range(min(len(eval_split), args.ss_images)):
    image = eval_split.image(i)
    image = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    start = time.perf_counter()
    ss_counts.append(len(detection.selective_search(image, "fast")))
    ss_times.append(time.perf_counter() - start)
  ss_s = statistics.median(ss_times)
  _emit(measure="proposals_ms_per_image", rpn=1e3 * rpn_s / n_eval,
        rpn_on_shared_features=1e3 * rpn_own_s / n_eval,
        selective_search_fast=1e3 * ss_s, speedup=ss_s / (rpn_s / n_eval),
        speedup_on_shared_features=ss_s / (rpn_own_s / n_eval),
        rpn_boxes=int(config.rpn_post_nms_top_n_test),
        selective_search_boxes=statistics.median(ss_counts), ss_images=len(ss_times),
        **common)


if __name__ == "__main__":
  main()
