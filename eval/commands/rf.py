"""Receptive field of each layer of a model: kernel, stride, padding, size, field, jump, start.

Read from the model's jaxpr (nothing runs): give a registered model with --model, or a
trained run with --workdir. The field is that of the logits unless --feature names a
recorded stage (e.g. pool5, stage4), whose field is the interesting one for a classifier
(after the dense head every output sees the whole image).

Examples:
  python -m eval rf --model vgg16 --feature pool5
  python -m eval rf --model resnet50 --input_size 321 --feature stage4 --json
  python -m eval rf --workdir runs/lenet5_digits
"""
import json

import jax
import jax.numpy as jnp

from jcnn import analysis, models


def add_model_arguments(parser) -> None:
  """--model/--workdir/--step/--input_size: where the model comes from."""
  parser.add_argument("--model", help="a registered model name (see `python -m eval models`)")
  parser.add_argument("--workdir", help="a training run's folder: its model and checkpoint")
  parser.add_argument("--step", type=int, default=None,
                      help="--workdir: checkpoint step to restore (default: the latest)")
  parser.add_argument("--input_size", type=int, default=None,
                      help="square input side (default: the model's own input size)")


def add_arguments(parser) -> None:
  add_model_arguments(parser)
  parser.add_argument("--feature", default=None,
                      help="analyse this recorded feature instead of the logits")
  parser.add_argument("--json", action="store_true",
                      help='print exactly one JSON object {"layers": [...], "total": {...}}')


def load(args):
  """(fn, variables, x) for the model the arguments name.

  fn(variables, x) gives the logits; x is a ShapeDtypeStruct [1, H, W, C]. With
  --model the variables are ShapeDtypeStructs (nothing is allocated); with --workdir
  they are the checkpoint's.
  """
  if (args.model is None) == (args.workdir is None):
    raise ValueError("give exactly one of --model NAME and --workdir DIR")
  if args.workdir is not None:
    from jcnn import runs, tasks
    run = runs.Run.open(args.workdir)
    restored = tasks.restore(run, args.step)
    model, variables = restored.model, restored.variables
    shape = tasks.get(run.config.task).input_shape(run.dataset_info)
  else:
    if args.step is not None:
      raise ValueError("--step needs --workdir")
    model, shape = models.create(args.model), models.info(args.model).input_shape
    variables = None
  if args.input_size is not None:
    if args.input_size < 1:
      raise ValueError(f"--input_size must be positive, got {args.input_size}")
    shape = (args.input_size, args.input_size, shape[-1])
  x = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
  if variables is None:
    variables = models.abstract_variables(model, shape)
  return (lambda v, x: model.apply(v, x, train=False)), variables, x, model


def feature_fn(model, name: str, variables, x):
  """fn(variables, x) giving the recorded feature `name`."""
  shapes = jax.eval_shape(lambda v, x: models.extract_features(model, v, x), variables, x)
  if name not in shapes:
    raise ValueError(f"no recorded feature {name!r}; recorded: {', '.join(shapes) or 'none'}")
  return lambda v, x: models.extract_features(model, v, x)[name]


def run(args) -> None:
  fn, variables, x, model = load(args)
  if args.feature is not None:
    fn = feature_fn(model, args.feature, variables, x)
  table = analysis.receptive_field(fn, x, variables=variables)
  print(json.dumps(table.as_dict()) if args.json else table)
