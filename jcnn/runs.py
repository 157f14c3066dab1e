"""The run folder as one object: the only code that spells a workdir's file names.

    <workdir>/config.json       the resolved config (`Run.config`)
    <workdir>/dataset.json      what the training data implied (`Run.dataset_info`)
    <workdir>/metrics.jsonl     one strict-JSON object per log step and evaluation
    <workdir>/tensorboard/      the same metrics as TensorBoard event files
    <workdir>/checkpoints/      orbax checkpoints (`jcnn.checkpoint`)
    <workdir>/corrupt/          unreadable checkpoints moved aside on resume
    <workdir>/train.lock        held by the one process that writes the run
    <workdir>/proposals/        R-CNN / SPP-net: cached selective-search boxes per split
    <workdir>/detector.npz      R-CNN / SPP-net: the SVMs and box regressors
    <study>/study.json          a study folder's plan (`jcnn.studies`); its runs below it

The run knows no task: rebuilding a model from a checkpoint is the task's
(`jcnn.tasks.restore`).

`Run.create` is the trainer's: it takes the lock (a second writer is refused; a
killed one's lock is released by the kernel, so it never goes stale) and refuses a
folder that holds a different run. With several processes (jax.distributed) the
primary one takes the lock and writes the files; every process joins the checkpoint
saves (orbax writes each array once) and reads them back on resume. `Run.open` is for readers (eval, studies,
notebooks): it never locks and never writes.
"""
import fcntl
import json
import math
import os
import pathlib
import shutil
import socket
import sys
import warnings
import ml_collections

from jcnn import checkpoint, parallel

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
CORRUPT_DIR = "corrupt"
LOCK_FILE = "train.lock"
CHECKPOINTS_DIR = "checkpoints"
PROPOSALS_DIR = "proposals"
DETECTOR_FILE = "detector.npz"
STUDY_FILE = "study.json"
DONE_SPLIT = "done"             # the metrics record that marks a finished run


class RunInUse(RuntimeError):
  """Another process writes this run."""


def _finite_or_none(value):
  """NaN and ±inf become null: metrics.jsonl stays strict JSON."""
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def _write_atomically(path: pathlib.Path, text: str) -> None:
  """Writes beside `path` and renames: an interrupted write never leaves half a file."""
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(text)
  tmp.replace(path)


def save_json(path: pathlib.Path, obj) -> None:
  """Writes strict JSON atomically."""
  _write_atomically(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False))


def _to_json(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json())


class Run:
  """One training run's folder. Build it with `Run.create` or `Run.open`."""

  def __init__(self, workdir: str | os.PathLike, *, writable: bool):
    self.workdir = pathlib.Path(workdir)
    self.writable = writable
    self._lock = None
    self._tensorboard = None
    self._manager = None
    self._config = None
    self._dataset_info = None

  # Opening.
  @classmethod
  def create(cls, workdir: str | os.PathLike, config: ml_collections.ConfigDict,
             identity: tuple[str, ...] = ()) -> "Run":
    """Opens `workdir` for training `config`: new, or the same run to resume.

    Args:
      workdir: the run's folder; created when missing.
      config: the resolved config; written to config.json.
      identity: fields that define the run: a folder whose checkpoints were trained
        with other values is refused, not overwritten.

    Raises:
      ValueError: `workdir` is a file, or holds a different run.
      RunInUse: another live process writes this run.
    """
    if not parallel.is_primary():
      parallel.primary_outcome(None)  # raises when the primary could not open the run
      run = cls(workdir, writable=True)
      run._config = config
      return run
    try:
      run = cls._create(pathlib.Path(workdir), config, identity)
    except BaseException as e:
      parallel.primary_outcome(e)
      raise
    parallel.primary_outcome(None)
    return run

  @classmethod
  def _create(cls, workdir: pathlib.Path, config: ml_collections.ConfigDict,
              identity: tuple[str, ...]) -> "Run":
    if workdir.exists() and not workdir.is_dir():
      raise ValueError(f"workdir {workdir} exists and is not a folder")
    workdir.mkdir(parents=True, exist_ok=True)
    run = cls(workdir, writable=True)
    run._take_lock()
    try:
      new = _to_json(config)
      if (workdir / CONFIG_FILE).exists() and run.steps():
        old = run.config.to_dict()
        for key in identity:
          if old.get(key) != new.get(key):
            raise ValueError(f"workdir {workdir} holds a run with {key}={old.get(key)!r}, not "
                             f"{new.get(key)!r}; choose another --workdir to start a new run")
      save_json(workdir / CONFIG_FILE, new)
      run._config = config
    except BaseException:
      run.close()
      raise
    return run

  @classmethod
  def open(cls, workdir: str | os.PathLike) -> "Run":
    """Opens a finished or running run for reading: never locks, never writes."""
    run = cls(workdir, writable=False)
    if not run.workdir.is_dir():
      raise FileNotFoundError(f"workdir {run.workdir} does not exist or is not a folder")
    if not (run.workdir / CONFIG_FILE).exists():
      raise FileNotFoundError(f"{run.workdir} is not a jcnn training run: "
                              f"{run.workdir / CONFIG_FILE} is missing")
    return run

  def _take_lock(self) -> None:
    path = self.workdir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
      os.close(fd)
      raise RunInUse(f"workdir {self.workdir} is in use by {holder}; wait for it to end "
                     f"or choose another --workdir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} "
                 f"({' '.join(sys.argv[:1] + sys.argv[1:4])})\n".encode())
    self._lock = fd

  def close(self) -> None:
    """Closes the logs and the checkpoint manager; releases the lock."""
    if self._tensorboard is not None:
      self._tensorboard.close()
      self._tensorboard = None
    if self._manager is not None:
      self._manager.close()
      self._manager = None
    if self._lock is not None:
      os.close(self._lock)  # closing the descriptor releases the flock
      self._lock = None

  def __enter__(self) -> "Run":
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def _check_writable(self) -> None:
    if not self.writable:
      raise PermissionError(f"run {self.workdir} was opened read-only (Run.open)")

  # Config and dataset info.
  def _read_json(self, name: str):
    path = self.workdir / name
    try:
      return json.loads(path.read_text())
    except FileNotFoundError:
      raise FileNotFoundError(f"{self.workdir} is not a complete jcnn run: {path} is missing"
                              ) from None
    except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, nested too deep
      raise ValueError(f"{path} is unreadable ({type(e).__name__}: {e})") from None

  @property
  def config(self) -> ml_collections.ConfigDict:
    """The run's resolved config."""
    if self._config is None:
      self._config = ml_collections.ConfigDict(self._read_json(CONFIG_FILE))
    return self._config

  @property
  def dataset_info(self) -> dict:
    """What evaluation must know about the training data (see the run's task)."""
    if self._dataset_info is None:
      self._dataset_info = self._read_json(DATASET_FILE)
    return self._dataset_info

  def save_dataset_info(self, info: dict) -> None:
    self._check_writable()
    if parallel.is_primary():
      save_json(self.workdir / DATASET_FILE, info)
    self._dataset_info = info

  # Metrics.
  def records(self, split: str | None = None) -> list[dict]:
    """The metrics log's records (those of `split` only, when given), in order."""
    path = self.workdir / METRICS_FILE
    if not path.exists():
      return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
      if not line:
        continue
      try:
        record = json.loads(line)
      except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}:{number} is not JSON ({type(e).__name__}: {e})") from None
      if split is None or record.get("split") == split:
        records.append(record)
    return records

  @property
  def finished(self) -> bool:
    """Whether training reached its last step: a "done" record at the latest checkpoint."""
    done = self.records(DONE_SPLIT)
    steps = self.steps()
    return bool(done and steps and done[-1]["step"] == steps[-1])

  def mark_finished(self, step: int, total_steps: int) -> None:
    """Logs that training ended at `step` = `total_steps` (read by `finished`)."""
    if not self.finished:
      self.log(step, DONE_SPLIT, {"total_steps": int(total_steps)})

  def log(self, step: int, split: str, values: dict) -> None:
    """Appends `values` at `step` to metrics.jsonl and TensorBoard (non-finite: null).

    Only the primary process writes; the others' calls do nothing.
    """
    self._check_writable()
    if not parallel.is_primary():
      return
    record = {"step": int(step), "split": split,
              **{k: _finite_or_none(v) for k, v in values.items()}}
    with (self.workdir / METRICS_FILE).open("a") as f:
      f.write(json.dumps(record, allow_nan=False) + "\n")
    if self._tensorboard is None:
      from flax.metrics import tensorboard  # imports TensorFlow: only when training
      self._tensorboard = tensorboard.SummaryWriter(str(self.workdir / TENSORBOARD_DIR))
    for name, value in values.items():
      self._tensorboard.scalar(f"{split}/{name}", value, step)
    self._tensorboard.flush()

  def truncate_log(self, step: int) -> None:
    """Drops records past `step`: what a run resumed from `step` will log again."""
    self._check_writable()
    path = self.workdir / METRICS_FILE
    if parallel.is_primary() and path.exists():
      kept = [json.dumps(r, allow_nan=False) for r in self.records() if r["step"] <= step]
      _write_atomically(path, "".join(line + "\n" for line in kept))

  # Checkpoints.
  @property
  def checkpoint_dir(self) -> pathlib.Path:
    return self.workdir.absolute() / CHECKPOINTS_DIR

  def steps(self) -> list[int]:
    """Steps of the run's checkpoints, ascending; [] when there are none."""
    return checkpoint.all_steps(self.checkpoint_dir)

  def _writer(self):
    if self._manager is None:
      self._check_writable()
      c = self.config
      for folder in checkpoint.unfinished_saves(self.checkpoint_dir):
        if parallel.is_primary():
          warnings.warn(f"removing {folder}, a checkpoint whose save never finished "
                        f"(the process was stopped while saving)", stacklevel=3)
      self._manager = checkpoint.make_manager(
          self.checkpoint_dir, keep=c.keep_checkpoints, best_metric=c.best_metric,
          best_mode=c.best_mode)
    return self._manager

  def save(self, state, metrics: dict[str, float] | None = None) -> None:
    """Checkpoints `state` at its step, with `metrics` for keep-the-best."""
    checkpoint.save(self._writer(), state, metrics)

  def resume(self, target):
    """The newest readable checkpoint restored into `target`, or `target` if none exist.

    Checkpoints newer than it that are damaged (truncated, corrupt) are moved to
    `corrupt/`, with a warning naming each; none is deleted. A read that fails in a way
    that may pass (an I/O error) moves nothing: it is raised.

    Raises:
      checkpoint.CheckpointError: checkpoints exist but none is readable.
      checkpoint.CheckpointReadError: reading failed and may succeed on a retry.
    """
    manager = self._writer()
    steps = sorted(manager.all_steps(), reverse=True)
    failures = []
    for step in steps:
      try:
        state = checkpoint.restore_state(manager, target, step)
      except checkpoint.CheckpointError as e:
        failures.append((step, e))
        continue
      for bad_step, error in failures:
        if parallel.is_primary():
          moved = self._move_aside(bad_step)
          warnings.warn(f"{error}; moved it to {moved} and resumed from step {step}",
                        stacklevel=2)
      if failures:
        parallel.sync("jcnn corrupt checkpoints moved")
        manager.reload()
      return state
    if failures:
      raise checkpoint.CheckpointError(
          f"no readable checkpoint in {self.checkpoint_dir} (tried steps "
          f"{', '.join(str(s) for s, _ in failures)}; newest: {failures[0][1]})")
    return target

  def _move_aside(self, step: int) -> pathlib.Path:
    target = self.workdir / CORRUPT_DIR / str(step)
    suffix = 1
    while target.exists():
      target = self.workdir / CORRUPT_DIR / f"{step}.{suffix}"
      suffix += 1
    target.parent.mkdir(exist_ok=True)
    shutil.move(str(self.checkpoint_dir / str(step)), str(target))
    return target
