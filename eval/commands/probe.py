"""Are a trained network's features general? (Zeiler & Fergus 2014, §5.2)

Freezes the checkpoint's features at --layer (default: the last feature map, averaged
over positions: what the classifier reads), fits only a softmax on --train_examples
images of another --dataset and scores it on that dataset's test split. Beside it: the
same softmax on the features of the same architecture at random initialisation, and the
same architecture trained from scratch on the same images with the run's own recipe
and the run's budget of steps (or --epochs), in a temporary folder deleted afterwards. ZF's pre-trained features
beat training from scratch by far when labelled images are few.

Example:
  python -m eval probe --workdir runs/small_vgg_mnist --dataset fashion_mnist \\
      --train_examples 1000
"""
import contextlib
import json
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval import score, viz_inputs
from jcnn import tasks, viz
from jcnn.data import order


def add_arguments(parser) -> None:
  parser.add_argument("--workdir", required=True, help="the training run's folder")
  parser.add_argument("--step", type=int, default=None,
                      help="checkpoint step (default: the latest)")
  parser.add_argument("--dataset", required=True,
                      help="the new dataset (a jcnn.data name: digits, mnist, "
                      "fashion_mnist, image_folder, ...)")
  parser.add_argument("--data_dir", default=None, help="its data folder, where it has one")
  parser.add_argument("--layer", default=None, help="feature map to freeze (default: the last)")
  parser.add_argument("--train_examples", type=int, default=1000,
                      help="labelled training images, balanced over classes (default 1000)")
  parser.add_argument("--eval_examples", type=int, default=0,
                      help="test images scored (default 0: the whole test split)")
  parser.add_argument("--epochs", type=int, default=None,
                      help="from-scratch training epochs (default: as many as give the "
                      "run's own number of steps)")
  parser.add_argument("--no_scratch", action="store_true",
                      help="skip the from-scratch baseline (the slow row)")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _probe_config(run, args):
  config = run.config.copy_and_resolve_references()
  config.dataset, config.data_dir = args.dataset, args.data_dir or ""
  config.train_examples, config.eval_examples = args.train_examples, args.eval_examples
  height, width, _ = run.dataset_info["image_shape"]
  if height == width:  # the new images are brought to the size the model was trained at
    config.resize = height - 2 * config.pad
  return config


def _split(run, config, split: str) -> tuple[np.ndarray, np.ndarray, tuple]:
  """The new dataset's `split` as the frozen model takes it: images and labels."""
  loaded = tasks.get(config.task).load_split(config, split)
  shape = tuple(run.dataset_info["image_shape"])
  if loaded.images.shape[1:] != shape:
    raise ValueError(f"{config.dataset} {split} images are {loaded.images.shape[1:]} after "
                     f"the run's resize/pad; the model takes {shape}")
  return viz_inputs.normalised(run, loaded), loaded.labels, loaded.class_names


def _features(pooled, variables, images: np.ndarray, batch: int = 500) -> np.ndarray:
  """`pooled`'s vectors (a feature map averaged over positions) for every image."""
  return np.concatenate([np.asarray(pooled(variables, jnp.asarray(images[i:i + batch])))
                         for i in range(0, len(images), batch)])


def _softmax_top1(train: tuple, test: tuple) -> float:
  model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
  model.fit(*train)
  return float(model.score(*test))


def run(args) -> None:
  if args.train_examples < 2:
    raise ValueError(f"--train_examples must be >= 2, got {args.train_examples}")
  run_ = score.open_run(args.workdir, "classification", "probe")
  restored = tasks.restore(run_, args.step)
  shape = tuple(run_.dataset_info["image_shape"])
  layer = args.layer or viz.layer_names(restored.model, shape)[-1]
  viz.check_layer(restored.model, shape, layer)
  config = _probe_config(run_, args)
  train_x, train_y, class_names = _split(run_, config, config.train_split)
  test_x, test_y, _ = _split(run_, config, config.eval_split)
  fn = viz.feature_fn(restored.model, layer)
  pooled = jax.jit(lambda v, x: fn(v, x).astype(jnp.float32).mean(axis=(1, 2)))  # once
  rows = []
  for name, variables in (
      (f"frozen {layer} (step {restored.step}) + softmax", restored.variables),
      (f"random-init {layer} + softmax",
       restored.model.init(jax.random.key(config.seed), jnp.zeros((1, *shape))))):
    start = time.perf_counter()
    top1 = _softmax_top1((_features(pooled, variables, train_x), train_y),
                         (_features(pooled, variables, test_x), test_y))
    rows.append({"method": name, "top1": top1, "seconds": round(time.perf_counter() - start, 1)})
  if not args.no_scratch:
    config.batch_size = min(config.batch_size, len(train_y))
    steps = order.batches_per_epoch(len(train_y), config.batch_size, train=True)
    rows.append(_from_scratch(config, args.epochs or max(1, round(restored.step / steps)),
                              steps))
  result = {"workdir": args.workdir, "dataset": args.dataset, "classes": len(class_names),
            "train_examples": len(train_y), "test_examples": len(test_y), "rows": rows}
  if args.json:
    print(json.dumps(result))
    return
  print(f"{args.dataset}: {len(train_y)} training images, {len(test_y)} test images")
  width = max(len(r["method"]) for r in rows)
  for r in rows:
    print(f"  {r['method']:<{width}}  top-1 {100 * r['top1']:6.2f}%  ({r['seconds']} s)")


def _from_scratch(config, epochs: int, steps_per_epoch: int) -> dict:
  """The architecture trained on the same images with the run's recipe."""
  from jcnn import training  # the training loop: only this row needs it
  config.num_epochs = epochs
  config.keep_checkpoints, config.best_metric = 1, ""
  config.checkpoint_every_steps = epochs * steps_per_epoch  # evaluated once, at the end
  start = time.perf_counter()
  with tempfile.TemporaryDirectory(prefix="jcnn_probe_") as workdir, \
       contextlib.redirect_stdout(sys.stderr):
    result = training.train_and_evaluate(config, workdir)
  return {"method": f"from scratch, all layers, {epochs} epochs", "top1": result["top1"],
          "seconds": round(time.perf_counter() - start, 1)}
