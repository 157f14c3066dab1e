"""Helpers shared by the tests of the programs."""
import os
import pathlib


REPO = pathlib.Path(__file__).resolve().parents[1]


def tiny_config(**fields):
  """The default LeNet-5/digits config cut to a few seconds of training."""
  from train.configs import default
  config = default.get_config()
  config.update(dict(num_epochs=2, batch_size=64, eval_batch_size=200, log_every_steps=5))
  config.update(fields)
  return config


def run_program(module: str, *args: str, env: dict | None = None, timeout: float = 300,
                cwd: pathlib.Path | None = None):
  """Runs `python -m module args...` from the repo root; returns the CompletedProcess."""
  import subprocess
  import sys
  full_env = {**os.environ, **(env or {})}
  full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
  return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd or REPO, env=full_env,
                        capture_output=True, text=True, timeout=timeout)


def write_png_bomb(path: pathlib.Path, side: int = 20_000) -> pathlib.Path:
  """A 65-byte PNG declaring side² 1-bit pixels: Pillow refuses to open it (a
  decompression bomb beyond twice `PIL.Image.MAX_IMAGE_PIXELS`)."""
  import struct
  import zlib

  def chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

  header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
  path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                   + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
  return path


def eval_json(capsys, *argv) -> dict:
  """Runs `python -m eval ARGV` in-process; its stdout must be exactly one JSON object."""
  import json
  from eval import __main__ as eval_main
  assert eval_main.main(list(argv)) == 0
  return json.loads(capsys.readouterr().out)


def eval_error(capsys, *argv) -> str:
  """Runs `python -m eval ARGV` in-process; it must fail with one "error: ..." line."""
  from eval import __main__ as eval_main
  assert eval_main.main(list(argv)) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("error: ") and "\n" not in err
  return err


# Fine-tuning tests: a pre-trained run to start from, and variables leaf by leaf.
def write_imported_run(workdir, model="lenet5", channels=1, num_classes=1000,
                       model_kwargs=None):
  """A run as `jcnn.pretrained.importer.import_run` writes one: a classification config
  on ImageNet, 1,000 class names, its own normalisation and one checkpoint at step 0
  (random weights, from another seed than the tests' runs; running statistics moved off
  their initial values, as a trained network's are)."""
  import jax
  from jcnn import models, optim, runs, tasks
  from jcnn import state as state_lib
  config = tasks.default_config("classification")
  config.update(name="imported", model=model, dataset="imagenet2012", resize=32,
                optimizer="sgd", schedule="constant")
  config.model_kwargs.update(model_kwargs or {})
  net = models.create(model, num_classes=num_classes, **config.model_kwargs)
  state = state_lib.create(net, optim.make_optimizer(config, optim.make_schedule(config, 1, 1)),
                           rng=jax.random.PRNGKey(7), input_shape=(32, 32, channels))
  state = state.replace(batch_stats=jax.tree.map(lambda x: x + 0.5, state.batch_stats))
  with runs.Run.create(workdir, config, tasks.identity(config)) as run:
    run.save_dataset_info({"image_shape": [32, 32, channels],
                           "class_names": [f"class {i}" for i in range(num_classes)],
                           "mean": [0.25] * channels, "std": [0.5] * channels})
    run.save(state)
  return workdir


def fresh_params(model="lenet5", **kwargs) -> dict:
  """What a digits run (`tiny_config`, seed 0) of `model` initialises its params to."""
  import jax
  import optax
  from jcnn import models
  from jcnn import state as state_lib
  net = models.create(model, num_classes=10, **kwargs)
  return state_lib.create(net, optax.sgd(0.0), rng=jax.random.PRNGKey(0),
                          input_shape=(32, 32, 1)).params


def flat_leaves(tree) -> dict:
  """{"c1/kernel": numpy array, ...}: a variables tree's leaves by path."""
  import jax
  import numpy as np
  leaves = jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]
  return {jax.tree_util.keystr(k, simple=True, separator="/"): np.asarray(v)
          for k, v in leaves}


# Convolution tests: random inputs, one geometry, the XLA reference, and the error metric.
def random_array(shape, seed: int, scale: float = 1.0, shift: float = 0.0):
  """Standard normal float32 values, scaled and shifted, from `seed`."""
  import numpy as np
  rng = np.random.default_rng(seed)
  return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


def conv_geometry(x_shape, k_shape, stride, padding, dilation):
  """(stride pair, explicit pads, dilation pair) as `jcnn.nn.conv2d` resolves them."""
  import jcnn.padding
  stride, dilation = jcnn.padding.to_pair(stride, "s"), jcnn.padding.to_pair(dilation, "d")
  return stride, jcnn.padding.explicit_padding(padding, x_shape[1:3], k_shape, stride,
                                               dilation), dilation


def lax_conv(x, k, stride, pads, dilation):
  """The reference: `lax.conv_general_dilated` on NHWC inputs and HWIO kernels."""
  from jax import lax
  return lax.conv_general_dilated(x, k, stride, pads, rhs_dilation=dilation,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def relative_error(actual, expected) -> float:
  """||actual - expected|| / ||expected||."""
  import jax.numpy as jnp
  return float(jnp.linalg.norm(actual - expected) / jnp.linalg.norm(expected))
