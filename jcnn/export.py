"""A classification run as one function of pixels, written for serving outside jcnn.

The exported function takes float32 pixels in [0, 255], `[batch, height, width,
channels]` at the size the run's images had before its `pad` (RGB, or one grayscale
channel), any batch; it pads and normalises them as training did and returns float32
logits `[batch, classes]`. It is traced with XLA's own convolutions (`kernels.use("xla")`):
jcnn's oneDNN kernels are custom calls that only a process holding jcnn's library can run.

    export.write(export.serving(run), "stablehlo", "exports/lenet5")

Formats: "stablehlo" (`jax.export`, weights inside, reloaded with
`jax.export.deserialize`) and "saved_model" (`jax2tf`, weights as variables, signature
`serving_default`: pixels -> {"logits"}). Both are lowered for `PLATFORMS` and have
`export.json` beside them: the input, the output and the class names.
"""
import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jcnn import kernels, runs, tasks

FORMATS = ("stablehlo", "saved_model", "onnx")
PLATFORMS = ("cpu", "cuda", "tpu")
STABLEHLO_FILE = "model.stablehlo"
METADATA_FILE = "export.json"
# Why `onnx` is refused, checked with jax 0.10.2 and TensorFlow 2.21: jax2tf keeps only
# native serialization, one XlaCallModule op that tf2onnx 1.17 cannot convert; jax2onnx
# from 0.13 (to 0.17.1) requires orbax-checkpoint < 0.11.37 (jcnn: >= 0.12.8), and every
# version lowers a max pool over NHWC to a 4-D MaxPool that onnxruntime refuses.
ONNX_REFUSAL = ("--format onnx: no converter works with jax 0.10 here (tf2onnx cannot read "
                "jax2tf's XlaCallModule op; jax2onnx needs an older orbax-checkpoint and its "
                "max pooling does not run in onnxruntime); export stablehlo or saved_model")


@dataclasses.dataclass(frozen=True)
class Serving:
  """A run's model as a function of pixels.

  Attributes:
    apply: `(variables, pixels [batch, *input_shape]) -> logits [batch, classes]`.
    variables: the checkpoint's weights as host arrays.
    input_shape: (height, width, channels) of the pixels `apply` takes.
    metadata: what `export.json` says: input, output, classes, the run and its step.
  """
  apply: Callable
  variables: dict
  input_shape: tuple[int, int, int]
  metadata: dict


def serving(run: runs.Run, step: int | None = None) -> Serving:
  """The checkpoint of `run` at `step` (the latest when None) as a function of pixels.

  Raises:
    ValueError: `run` is not a classification run.
  """
  if run.config.task != "classification":
    raise ValueError(f"{run.workdir} is a {run.config.task} run; export takes classification "
                     "runs (a detector is more than one function of its pixels)")
  config, info = run.config, run.dataset_info
  restored = tasks.restore(run, step)
  height, width, channels = info["image_shape"]
  pad = config.pad
  shape = (height - 2 * pad, width - 2 * pad, channels)
  mean = np.asarray(info["mean"], np.float32)
  std = np.asarray(info["std"], np.float32)

  def apply(variables: dict, pixels: jax.Array) -> jax.Array:
    with kernels.use("xla"):  # whoever traces this (jax.export, jax2tf) gets no custom call
      x = jnp.pad(pixels, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
      return restored.apply(variables, (x / 255 - mean) / std, train=False)

  classes = list(info["class_names"])
  metadata = {
      "input": {"name": "pixels", "shape": [None, *shape], "dtype": "float32",
                "layout": "NHWC", "range": [0, 255],
                "colour": {1: "grayscale", 3: "RGB"}.get(channels, f"{channels} channels")},
      "output": {"name": "logits", "shape": [None, len(classes)], "dtype": "float32"},
      "class_names": classes,
      "preprocessing": {"pad": pad, "mean": info["mean"], "std": info["std"],
                        "formula": "(pad(pixels) / 255 - mean) / std"},
      "model": config.model, "run": str(run.workdir), "step": restored.step,
      "platforms": list(PLATFORMS)}
  return Serving(apply, jax.device_get(restored.variables), shape, metadata)


def _batch_polymorphic(model: Serving) -> str:
  """The pixels' shape for `jax.export` with a symbolic batch: "b, H, W, C"."""
  return ", ".join(["b", *map(str, model.input_shape)])


def exported(model: Serving) -> jax.export.Exported:
  """`model` traced for `PLATFORMS` with its weights inside, any batch."""
  shape = jax.export.symbolic_shape(_batch_polymorphic(model))
  fn = jax.jit(lambda pixels: model.apply(model.variables, pixels))
  return jax.export.export(fn, platforms=PLATFORMS)(jax.ShapeDtypeStruct(shape, jnp.float32))


def _write_stablehlo(model: Serving, folder: pathlib.Path) -> None:
  (folder / STABLEHLO_FILE).write_bytes(exported(model).serialize())


def _write_saved_model(model: Serving, folder: pathlib.Path) -> None:
  """A tf.Module whose weights are variables (a constant over 2 GB would not fit its
  protocol buffer) and whose `serving_default` takes "pixels" and gives {"logits"}."""
  import tensorflow as tf
  from jax.experimental import jax2tf
  paths, treedef = jax.tree_util.tree_flatten_with_path(model.variables)
  convert = jax2tf.convert(
      lambda leaves, pixels: model.apply(jax.tree.unflatten(treedef, leaves), pixels),
      polymorphic_shapes=[None, f"({_batch_polymorphic(model)})"], with_gradient=False,
      native_serialization_platforms=PLATFORMS)
  module = tf.Module()
  module.weights = [tf.Variable(leaf, trainable=False,
                                name="/".join(str(k.key) for k in path))
                    for path, leaf in paths]

  @tf.function(autograph=False, input_signature=[
      tf.TensorSpec([None, *model.input_shape], tf.float32, name="pixels")])
  def serve(pixels):
    return {"logits": convert(list(module.weights), pixels)}

  module.serve = serve
  tf.saved_model.save(module, str(folder), signatures={"serving_default": serve})


_WRITERS = {"stablehlo": _write_stablehlo, "saved_model": _write_saved_model}


def check_output(format_: str, output: str | os.PathLike) -> pathlib.Path:
  """`output` resolved, once `format_` can be written and `output` is free.

  Raises:
    ValueError: an unknown or refused format; `output` is a file or a non-empty folder.
  """
  if format_ == "onnx":
    raise ValueError(ONNX_REFUSAL)
  if format_ not in _WRITERS:
    raise ValueError(f"unknown export format {format_!r}; choose from {', '.join(FORMATS)}")
  output = pathlib.Path(output).resolve()
  if output.exists() and (not output.is_dir() or any(output.iterdir())):
    raise ValueError(f"--output {output} exists and is not an empty folder; export writes "
                     "a new one")
  return output


def write(model: Serving, format_: str, output: str | os.PathLike) -> pathlib.Path:
  """Writes `model` as `format_` into the new folder `output`: all of it or nothing.

  It is written in a hidden folder beside `output` and renamed when complete.

  Returns:
    `output`, resolved.
  """
  output = check_output(format_, output)
  output.parent.mkdir(parents=True, exist_ok=True)
  partial = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
  try:
    umask = os.umask(0)
    os.umask(umask)
    partial.chmod(0o777 & ~umask)  # mkdtemp's folder is the owner's only
    _WRITERS[format_](model, partial)
    (partial / METADATA_FILE).write_text(
        json.dumps({"format": format_, **model.metadata}, indent=1) + "\n")
    os.replace(partial, output)  # replaces an empty folder; a non-empty one fails
  except BaseException:
    shutil.rmtree(partial, ignore_errors=True)
    raise
  return output
