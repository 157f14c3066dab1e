"""Process-wide settings the programs apply at start: XLA:CPU flags, compile cache, malloc,
and the OpenMP threads of each CPU device.

All must be set before JAX compiles anything (the flags and the allocator before its
backends start their threads), so `python -m train`, `python -m eval` and the
benchmarks call `configure()` first thing. The library itself never calls it:
importing jcnn changes nothing.
"""
import ctypes
import os
import platform
import pathlib

from jcnn import paths

# XLA:CPU hands convolutions, dots, element-wise chains and reductions to YNNPACK.
# Measured on a 2-core AMD EPYC (benchmarks/README.md): ResNet-20's train step 1.13-1.2x
# faster (the transposes before its weight-gradient convolutions shrink; 1.1x still
# with oneDNN's convolutions and batch norm, jcnn.kernels), but AlexNet 20 % and
# MobileNet, ResNet-18 and Inception-v2 5-8 % slower end to end. So they are off
# unless the program asks for them (`configure(cpu_flags=True)`, from a config's
# `xla_cpu_flags`: the ResNet-20 CIFAR configs) or JCNN_XLA_CPU_FLAGS=1 / 0 says
# otherwise. Results equal the default path (tests/jcnn/test_runtime.py).
CPU_XLA_FLAGS = (
    "--xla_cpu_experimental_ynn_fusion_type="
    "individual_convolution,individual_dot,eltwise,reduce,dot",
)
# Compilations faster than this are not worth a disk entry.
MIN_COMPILE_S = 0.2


# glibc's mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def keep_freed_memory() -> bool:
  """Has glibc keep freed memory for reuse instead of handing it back to the OS.

  XLA:CPU allocates a step's temporaries in one block (300 MB for ResNet-20's train
  step at batch 128) from a worker thread. glibc serves such a block from a fresh
  mmap and unmaps it on free, so every step page-faults all of it in again: 70,000
  faults, a fifth of the step's CPU time. One arena, no mmap and no trimming keep the
  block mapped: ResNet-20 trains 1.27× faster (benchmarks/README.md), for a larger
  resident set (1.4 GB instead of 0.8). Returns False where libc is not glibc.
  """
  if platform.libc_ver()[0] != "glibc":
    return False
  mallopt = ctypes.CDLL(None).mallopt
  return all(mallopt(param, value) == 1 for param, value in (
      (_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1)))


def default_cache_dir() -> pathlib.Path:
  """$JCNN_COMPILE_CACHE_DIR, else $JCNN_CACHE_DIR/xla, else ~/.cache/jcnn/xla."""
  if os.environ.get("JCNN_COMPILE_CACHE_DIR"):
    return pathlib.Path(os.environ["JCNN_COMPILE_CACHE_DIR"]).expanduser()
  return paths.cache_dir() / "xla"


def _flag_name(flag: str) -> str:
  return flag.split("=", 1)[0]


def add_xla_flags(flags: tuple[str, ...], env: dict = os.environ) -> str:
  """Appends `flags` to env["XLA_FLAGS"], keeping any the user set there already."""
  current = env.get("XLA_FLAGS", "").split()
  present = {_flag_name(f) for f in current}
  env["XLA_FLAGS"] = " ".join(current + [f for f in flags if _flag_name(f) not in present])
  return env["XLA_FLAGS"]


def configure(*, cpu_flags: bool = False,
              compile_cache: str | os.PathLike | None = "default",
              keep_memory: bool = True) -> bool:
  """Sets up XLA flags, the persistent compilation cache and malloc for this process.

  Args:
    cpu_flags: whether to add `CPU_XLA_FLAGS`: True where they were measured faster
      for the model this process runs (a config's `xla_cpu_flags`). They only change
      how XLA:CPU compiles; other backends ignore them. JCNN_XLA_CPU_FLAGS=1 / 0 in
      the environment overrides the argument.
    compile_cache: folder of the compilation cache ("default": `default_cache_dir()`;
      None: no cache). A second start of the same run loads its programs from there.
    keep_memory: `keep_freed_memory()`, so each step reuses the last one's memory.

  Returns:
    Whether the XLA flags apply: never when JAX had started already (a program's main
    called in-process, after other JAX work), where the process keeps its own.
  """
  from jax._src import xla_bridge
  import jax
  env = os.environ.get("JCNN_XLA_CPU_FLAGS")
  if env in ("0", "1"):
    cpu_flags = env == "1"
  started = xla_bridge.backends_are_initialized()
  applied = cpu_flags and not started
  if applied:
    add_xla_flags(CPU_XLA_FLAGS)
  if keep_memory and not started:
    keep_freed_memory()
  if not started:
    share_threads_between_devices()
  if compile_cache is not None:
    path = default_cache_dir() if compile_cache == "default" else pathlib.Path(compile_cache)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  return applied


def host_device_count(env: dict = os.environ) -> int:
  """The CPU devices XLA_FLAGS asks this process for (1 without the flag)."""
  for flag in env.get("XLA_FLAGS", "").split():
    if _flag_name(flag) == "--xla_force_host_platform_device_count":
      return int(flag.partition("=")[2])
  return 1


def share_threads_between_devices(env: dict = os.environ) -> int | None:
  """OMP_NUM_THREADS = cores / CPU devices, unless set: each device's oneDNN team.

  Each CPU device runs its share of the batch's convolutions at the same time
  (jcnn.kernels); OpenMP gives every team all the cores, so two devices on two cores
  ran ResNet-20's train step at 361 img/s against 481 with one thread each
  (benchmarks/README.md). Must run before libgomp loads (oneDNN's first use).
  Returns the number set, or None where it left the environment alone.
  """
  devices = host_device_count(env)
  if devices <= 1 or env.get("OMP_NUM_THREADS"):
    return None
  threads = max(1, (os.cpu_count() or 1) // devices)
  env["OMP_NUM_THREADS"] = str(threads)
  return threads


class CompileTimer:
  """Seconds XLA spends compiling (or loading from the compile cache) while entered.

      with runtime.CompileTimer() as timer:
        step(state, batch)
      timer.seconds
  """
  _active: list["CompileTimer"] = []
  _listening = False

  def __init__(self):
    self.seconds = 0.0

  @classmethod
  def _record(cls, event: str, duration: float, **_) -> None:
    from jax._src import dispatch
    if event == dispatch.BACKEND_COMPILE_EVENT:
      for timer in cls._active:
        timer.seconds += duration

  def __enter__(self) -> "CompileTimer":
    import jax
    if not CompileTimer._listening:
      jax.monitoring.register_event_duration_secs_listener(CompileTimer._record)
      CompileTimer._listening = True
    CompileTimer._active.append(self)
    return self

  def __exit__(self, *exc) -> None:
    CompileTimer._active.remove(self)


def quiet(verbose: bool = False) -> None:
  """Keeps a program's output to jcnn's own lines: no TensorFlow banners, no orbax INFO.

  TensorFlow only writes TensorBoard summaries and reads TFDS here; its start-up
  banners (and its own oneDNN rewrites, which jcnn's kernels do not use) are off.
  absl logging (orbax reports every save, and that a read-only manager cannot save;
  a failed save it logs with a traceback before raising, and the program prints what
  it raises as one line) is silent but for fatal errors, unless `verbose` (the user
  passed --verbosity).
  Call before anything imports TensorFlow.
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  if not verbose:
    from absl import logging
    logging.set_verbosity(logging.FATAL)

