"""What a task is, and the config fields every task shares.

A task is one kind of training (classification, detection, ...). Everything a caller
uses of a task is declared here, in three groups:
- training: the shared loop (`jcnn.training.train_and_evaluate`) asks for a `Training`
  (the model, the pure train step, the batches of any epoch, the evaluators), runs the
  stages before the loop inside `training` and those after it in `finish`; the loop
  does the rest: optimizer, state, progress, logs, checkpoints, resume and the guards;
- restoring: `restore` rebuilds a saved run's model and weights (`Restored`);
- evaluation: the eval program loads a split (`load_split`, `load_split_from`), turns
  it into the run's input (`batches`) and scores a restored checkpoint on it
  (`evaluator`); a task whose runs find boxes sets `detects`, and its evaluators are
  `Detector`s.
"""
import abc
import dataclasses
from typing import Any, Callable, Iterator, Protocol, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import Mesh

from jcnn import checkpoint, models, optim, param_paths, parallel, precision, runs


class Evaluator(Protocol):
  """Scores evaluation variables (big_vision's shape: small, one per file).

  Attributes:
    name: the split its records carry in the metrics log (e.g. "eval").
  """
  name: str

  def run(self, variables: dict) -> dict[str, float]:
    """Metrics of `variables` ({"params", ["batch_stats"]}) over the evaluator's data."""


class Detector(Evaluator, Protocol):
  """A detection task's evaluator: it also gives each image's boxes."""

  def detections(self, variables: dict) -> list[dict]:
    """Per image of its split, in order: {"boxes" [D, 4] xyxy in the image's own pixels,
    "scores" [D], "labels" [D]}."""


@dataclasses.dataclass(frozen=True)
class Training:
  """What a task hands the shared loop for one run.

  Attributes:
    dataset_info: what evaluating a checkpoint needs to know of the training data;
      saved as the run's dataset info.
    num_examples: training examples in an epoch.
    model: the Flax module; `model.init(key, zeros([1, *input_shape]), train=False)`.
    train_step: pure `(state, batch) -> (state, metrics)`; metrics hold a scalar
      "loss", checked by the non-finite guard.
    batches: `(epoch, start_batch) -> host batches` of that epoch from that batch on,
      the same on every call (resume repeats them). Each batch is a dict of arrays
      with a leading batch axis, split over the mesh; variable-length things (boxes
      per image) are padded to a fixed count with a mask, so every step has one shape.
    evaluators: run at every checkpoint; the first one's metrics choose the best.
    progress: train metrics shown on the progress bar.
    init_variables: optional `variables -> variables` ({"params", "batch_stats"})
      applied to the freshly initialised ones before any checkpoint is resumed (e.g. a
      network or a backbone pre-trained by a classification run, `config.init_from`).
  """
  dataset_info: dict
  num_examples: int
  model: nn.Module
  train_step: Callable
  batches: Callable[[int, int], Iterator[dict]]
  evaluators: Sequence[Evaluator]
  progress: tuple[str, ...] = ("loss",)
  init_variables: Callable[[dict], dict] | None = None


@dataclasses.dataclass(frozen=True)
class Restored:
  """A checkpoint ready for evaluation: the model, its variables, how to call it.

  `dataclasses.replace(restored, apply=f)` scores another function of the same weights
  (a knocked-out block, test-time augmentation) with the task's evaluator.
  """
  step: int
  model: nn.Module
  variables: dict       # {"params": ..., ["batch_stats": ...]}, EMA weights when kept
  apply: Callable       # model.apply in the run's compute dtype
  mesh: Mesh


class Task(abc.ABC):
  """One kind of training. Subclasses set `name`, `identity` and the abstract methods."""
  name: str
  # Fields that define a run: resuming a folder trained with other values is refused.
  identity: tuple[str, ...] = ()
  # Its runs find boxes: `eval detect` scores them, `eval predict` draws them, and
  # `evaluator` returns a `Detector`.
  detects: bool = False

  # Config.
  @abc.abstractmethod
  def fields(self) -> ml_collections.ConfigDict:
    """This task's own config fields with their defaults (see `common_fields`)."""

  def validate(self, config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first of this task's fields with a bad value."""

  # Model.
  @abc.abstractmethod
  def model(self, config: ml_collections.ConfigDict, dataset_info: dict) -> nn.Module:
    """The model of a run of this task."""

  def input_shape(self, dataset_info: dict) -> tuple[int, ...]:
    """Shape of one model input, without the batch axis."""
    return tuple(dataset_info["image_shape"])

  # Training.
  @abc.abstractmethod
  def training(self, config: ml_collections.ConfigDict, mesh: Mesh,
               run: runs.Run | None = None) -> Training:
    """Loads the data and builds what the loop runs.

    `run` is the run folder being trained, for tasks that keep a stage's output there
    before the loop (R-CNN's proposals); None outside the trainer (tests, benchmarks).
    """

  def finish(self, config: ml_collections.ConfigDict, run: runs.Run, variables: dict,
             step: int, mesh: Mesh) -> dict:
    """Stages after the loop, on the final weights (R-CNN's SVMs and box regressors),
    skipped where their output in `run` is already there; their metrics join the run's
    results. Most tasks have none."""
    return {}

  # Restoring.
  def restore(self, run: runs.Run, step: int | None = None, *,
              use_ema: bool = True) -> Restored:
    """The checkpoint of `run` at `step` (the latest when None): its model rebuilt from
    the run's config and dataset info, its weights (the EMA's when kept and `use_ema`)."""
    config = run.config
    mesh = parallel.make_mesh(config.num_devices)
    model = self.model(config, run.dataset_info)
    abstract = models.abstract_variables(model, self.input_shape(run.dataset_info))
    sharding = parallel.replicated(mesh)
    as_target = lambda t: jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), t)
    target = {"params": as_target(abstract["params"]),
              "batch_stats": as_target(abstract.get("batch_stats", {}))}
    if config.ema_decay > 0:
      target["ema_params"] = target["params"]
    step, variables = checkpoint.restore_variables(run.checkpoint_dir, target, step,
                                                   use_ema=use_ema)
    return Restored(step, model, variables, apply_fn(config, model), mesh)

  # Evaluation.
  @abc.abstractmethod
  def load_split(self, config: ml_collections.ConfigDict, split: str) -> Any:
    """`split` of the config's dataset, loaded as `evaluator` and `batches` take it."""

  def load_split_from(self, config: ml_collections.ConfigDict, spec: str) -> Any:
    """Data from outside the run's dataset (`eval detect --data KIND:PATH`)."""
    raise ValueError(f"a {self.name} run is evaluated on its own dataset's splits only, "
                     f"not on {spec!r}")

  def batches(self, config: ml_collections.ConfigDict, dataset_info: dict, split: Any, *,
              train: bool, epoch: int = 0, start_batch: int = 0,
              mesh: Mesh | None = None) -> Iterator[dict]:
    """Batches of `split` (from `load_split`) as the run's model takes them: train=True
    as in training (augmented, in the order of `epoch`), else in order and padded.
    With `mesh`, only this process's rows of each batch (`parallel.local_rows`)."""
    raise ValueError(f"a {self.name} run gives no batches of its images")

  @abc.abstractmethod
  def evaluator(self, run: runs.Run, restored: Restored, split: Any,
                name: str = "eval") -> Evaluator:
    """Scores `restored` (its `apply`, on its mesh) on `split` (from `load_split`);
    `name` is the split its records would carry in a metrics log."""


def common_fields() -> ml_collections.ConfigDict:
  """The fields of every run, with defaults; a task adds its own (`Task.fields`)."""
  c = ml_collections.ConfigDict()
  c.name = "run"                 # the default workdir is runs/<name>
  c.task = "classification"      # jcnn.tasks.names()
  # Model.
  c.model = "lenet5"             # a jcnn.models registry name
  c.model_kwargs = ml_collections.ConfigDict()
  # Data.
  c.dataset = "digits"           # digits | image_folder | any TFDS name (mnist, ...)
  c.data_dir = ""                # TFDS manual_dir or image folder; default $JCNN_DATA_DIR/<dataset>
  c.train_split = "train"
  c.eval_split = "test"
  c.train_examples = 0           # > 0: train on this many, the first of each class in turn
  c.eval_examples = 0            # > 0: evaluate on this many, chosen the same way
  # Optimisation.
  c.batch_size = 128
  c.eval_batch_size = 500
  c.num_epochs = 10
  c.num_train_steps = -1         # > 0 overrides num_epochs
  c.optimizer = "adam"           # sgd | momentum | nesterov | adam | adamw | rmsprop
  c.learning_rate = 1e-3
  c.momentum = 0.9
  c.schedule = "cosine"          # constant | exponential | step | cosine
  c.decay_rate = 0.99            # exponential: factor per epoch
  c.boundaries = ()              # step: steps at which the rate is multiplied by decay_factor
  c.decay_factor = 0.1
  c.warmup_epochs = 0.0          # linear warm-up from 0, before any schedule
  c.weight_decay = 0.0           # L2 coefficient on 0.5 * sum(w**2)
  c.weight_decay_subset = "kernels"  # kernels | dense | all: the leaves that decay (L2, AdamW)
  c.adamw_weight_decay = 0.0     # adamw only: decoupled decay, w -= lr * this * w each step
  # Fine-tuning, by regexes over parameter paths ("stage1_block1/conv1/kernel", jcnn.param_paths).
  c.freeze = ""                  # parameters it matches are never updated ...
  c.freeze_batch_stats = True    # ... and its batch norms run on their stored statistics
  c.lr_multipliers = ()          # ("regex=factor", ...): the first match scales the rate
  c.ema_decay = 0.0              # > 0: keep an EMA of the weights and evaluate with it
  c.grad_clip_norm = 0.0         # > 0: clip gradients to this global norm
  c.dtype = "float32"            # compute dtype: float32 | bfloat16 (parameters stay float32)
  # Run.
  c.seed = 0
  c.num_devices = 0              # 0: all visible devices
  c.checkpoint_every_steps = 0   # 0: once per epoch; evaluation runs at every checkpoint
  c.keep_checkpoints = 3
  c.best_metric = "top1"         # also keep the best checkpoint by this eval metric ("": none)
  c.best_mode = "max"
  c.log_every_steps = 20
  c.max_nonfinite_steps = 20     # stop after this many consecutive non-finite steps
  c.xla_cpu_flags = False        # XLA:CPU's YNNPACK fusions (jcnn.runtime): faster for some models
  return c


# Fields that define a run of any task (`Task.identity` adds the task's own).
IDENTITY = ("task", "model", "model_kwargs", "dataset", "train_examples", "eval_examples",
            "seed")


def validate_common(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first common field with an impossible value."""
  precision.compute_dtype(config.dtype)
  checks = [
      ("batch_size", config.batch_size > 0, "must be positive"),
      ("eval_batch_size", config.eval_batch_size > 0, "must be positive"),
      ("num_epochs", config.num_epochs > 0 or config.num_train_steps > 0,
       "or num_train_steps must be positive"),
      ("learning_rate", config.learning_rate > 0, "must be positive"),
      ("weight_decay", config.weight_decay >= 0, "must be >= 0"),
      ("adamw_weight_decay", config.adamw_weight_decay >= 0, "must be >= 0"),
      ("adamw_weight_decay", config.adamw_weight_decay == 0 or config.optimizer == "adamw",
       f"is read by optimizer 'adamw' only, not {config.optimizer!r} (the L2 term is "
       "config.weight_decay)"),
      ("warmup_epochs", config.warmup_epochs >= 0, "must be >= 0"),
      ("ema_decay", 0 <= config.ema_decay < 1, "must be in [0, 1)"),
      ("keep_checkpoints", config.keep_checkpoints > 0, "must be positive"),
      ("log_every_steps", config.log_every_steps > 0, "must be positive"),
      ("max_nonfinite_steps", config.max_nonfinite_steps > 0, "must be positive"),
      ("best_mode", config.best_mode in ("max", "min"), "must be 'max' or 'min'"),
      ("train_examples", config.train_examples >= 0, "must be >= 0 (0: all)"),
      ("eval_examples", config.eval_examples >= 0, "must be >= 0 (0: all)"),
      ("checkpoint_every_steps", config.checkpoint_every_steps >= 0, "must be >= 0"),
  ]
  check_fields(config, checks)
  for field, known in (("optimizer", optim.OPTIMIZERS), ("schedule", optim.SCHEDULES)):
    if config[field] not in known:
      raise ValueError(f"unknown {field} {config[field]!r} (config.{field}); choose from "
                       f"{', '.join(known)}")
  param_paths.compile_field(config, "freeze")
  optim.lr_multipliers(config)


def check_fields(config: ml_collections.ConfigDict,
                 checks: list[tuple[str, bool, str]]) -> None:
  """Raises ValueError for the first (field, ok, why) that is not ok, naming its value."""
  for field, ok, why in checks:
    if not ok:
      raise ValueError(f"config.{field}={config[field]!r} {why}")


def apply_fn(config: ml_collections.ConfigDict, model: nn.Module) -> Callable:
  """`model.apply`, computing in `config.dtype` (jcnn.precision)."""
  return precision.apply_in(config.dtype, model.apply)


def all_finite(tree) -> jax.Array:
  """Whether every floating leaf of `tree` is finite, as a scalar bool."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
