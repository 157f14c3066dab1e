"""Device mesh, shardings and the process group of data-parallel steps.

One code path for one device, for N, and for N processes: a 1-D ('data',) mesh over
every device of every process, the batch split along it, the train state replicated.
`jax.jit` with these shardings inserts the gradient all-reduce (and global BatchNorm
statistics) itself. With several processes (`initialize`, jax.distributed), each one
loads only its rows of every global batch (`local_rows`) and `put_batch` assembles the
global array from the processes' parts; the order of the examples is that of a single
process, so what a run sees does not depend on how many processes share it.
"""
import functools
import hashlib
import re
import socket
import time

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"
# How long a process waits for the coordinator and the others to join before giving up.
DEFAULT_TIMEOUT_S = 120
DEFAULT_PEER_TIMEOUT_S = 30
# How a peer's death first shows in a collective or a barrier (gloo, the coordination service).
_PEER_FAILURE = re.compile(r"Gloo|Connection reset|Connection closed|Socket closed|UNAVAILABLE|"
                           r"heartbeat|Barrier failed|DEADLINE_EXCEEDED")


def make_mesh(num_devices: int | None = None) -> Mesh:
  """A 1-D mesh over the first `num_devices` devices (all of them when None).

  With several processes the devices are those of all processes, and a mesh must
  hold them all (each process feeds its own devices).
  """
  devices = jax.devices()
  if num_devices is None or num_devices <= 0:
    num_devices = len(devices)
  if num_devices > len(devices):
    raise ValueError(f"asked for {num_devices} devices but only {len(devices)} are "
                     f"available ({devices[0].platform}); on CPU, set XLA_FLAGS="
                     f"--xla_force_host_platform_device_count={num_devices} before jax starts")
  if jax.process_count() > 1 and num_devices != len(devices):
    raise ValueError(f"with {jax.process_count()} processes the mesh takes all "
                     f"{len(devices)} devices, not {num_devices} (config.num_devices=0)")
  return Mesh(np.array(devices[:num_devices]), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  """Sharding that keeps a full copy on every device (the train state)."""
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  """Sharding that splits the leading (batch) axis over the mesh."""
  return NamedSharding(mesh, P(DATA_AXIS))


def traced_on(mesh: Mesh, fn):
  """`fn`, traced with `mesh` as the context mesh, for `jax.jit` with this mesh's shardings.

  What `jcnn.kernels` reads to run oneDNN's convolutions once per device of a CPU mesh
  (a `shard_map` over the batch) instead of handing XLA a custom call it would gather.
  """
  @functools.wraps(fn)
  def on_mesh(*args, **kwargs):
    with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
      return fn(*args, **kwargs)
  return on_mesh


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  """Raises unless the batch splits evenly over the mesh."""
  n = mesh.devices.size
  if batch_size % n:
    raise ValueError(f"batch_size {batch_size} is not divisible by the {n} devices of the mesh")


def local_rows(mesh: Mesh | None, batch_size: int) -> slice:
  """The rows of a global batch of `batch_size` that this process loads and feeds.

  Its devices' consecutive blocks of the batch axis: all rows with one process (or
  no mesh).
  """
  if mesh is None or jax.process_count() == 1:
    return slice(None)
  check_batch_size(batch_size, mesh)
  index = batch_sharded(mesh).addressable_devices_indices_map((batch_size,)).values()
  starts = sorted(s[0].indices(batch_size)[:2] for s in index)
  first, last = starts[0][0], starts[-1][1]
  if sum(stop - start for start, stop in starts) != last - first:
    raise ValueError("this process's devices do not hold one block of the batch axis; "
                     "build the mesh with make_mesh")
  return slice(first, last)


def put_batch(batch: dict, mesh: Mesh) -> dict:
  """Moves this process's rows of a batch (`local_rows`) onto the mesh as one array each."""
  sharding = batch_sharded(mesh)
  local = len(next(iter(jax.tree.leaves(batch))))
  check_batch_size(local * jax.process_count(), mesh)
  if jax.process_count() == 1:
    return jax.device_put(batch, sharding)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


# The process group.
def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, timeout_s: int = DEFAULT_TIMEOUT_S,
               peer_timeout_s: int = DEFAULT_PEER_TIMEOUT_S) -> bool:
  """Joins a jax.distributed process group; returns whether there is one.

  With `coordinator` ("host:port", served by process 0), `num_processes` and
  `process_id` given, those; without them, JAX's own detection of a SLURM, Open MPI,
  Kubernetes or Cloud TPU cluster; with neither, nothing (one process). On the CPU the
  processes talk through gloo. Must run before anything else touches a JAX backend.
  A process silent for `peer_timeout_s` seconds counts as lost: JAX then ends the others
  (see jcnn.supervisor).

  Raises:
    ValueError: an incomplete or impossible set of values, or a coordinator that
      cannot be reached within `timeout_s` seconds.
  """
  given = {"coordinator": coordinator, "num_processes": num_processes,
           "process_id": process_id}
  if any(v is not None for v in given.values()):
    missing = [k for k, v in given.items() if v is None]
    if missing:
      raise ValueError(f"--{' and --'.join(missing)} missing: a process group needs "
                       f"--coordinator, --num_processes and --process_id together")
    if num_processes < 1 or not 0 <= process_id < num_processes:
      raise ValueError(f"--process_id={process_id} is out of range for "
                       f"--num_processes={num_processes} (0 to {num_processes - 1})")
    _check_coordinator(coordinator, process_id == 0, timeout_s)
  elif not cluster_detected():
    return False
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               initialization_timeout=timeout_s,
                               heartbeat_timeout_seconds=peer_timeout_s)
  except Exception as e:  # jaxlib raises its own XlaRuntimeError, with a long trace
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    where = coordinator or "the detected cluster"
    raise ValueError(f"could not join the process group at {where} within {timeout_s} s "
                     f"({reason[:300]})") from None
  return True


def _check_coordinator(coordinator: str, serves: bool, timeout_s: float) -> None:
  """Raises ValueError unless process 0 can serve at `coordinator` (`serves`) or the
  others can reach it within `timeout_s`.

  JAX's client aborts the whole process when it cannot connect; this asks first, so
  the answer is one readable line.
  """
  host, _, port = coordinator.rpartition(":")
  if not port.isdigit():
    raise ValueError(f"--coordinator={coordinator!r} must be HOST:PORT")
  if serves:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
      try:
        s.bind(("", int(port)))
      except OSError as e:
        raise ValueError(f"process 0 cannot serve the process group on port {port} "
                         f"({e.strerror}); choose another --coordinator port") from None
    return
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
      return
    except OSError as e:
      if time.monotonic() >= deadline:
        raise ValueError(f"could not reach the coordinator {coordinator} within "
                         f"{timeout_s} s ({e.strerror or e}); is process 0 running "
                         f"there?") from None
      time.sleep(0.2)


def cluster_detected() -> bool:
  """Whether JAX's cluster detection would find a process group in the environment."""
  from jax._src import clusters  # JAX's own list of cluster environments
  return any(c.is_env_present() for c in clusters.ClusterEnv._cluster_types
             if c.__name__ != "Mpi4pyCluster")  # mpi4py is opt-in, as in JAX


def await_lost_peer(error: BaseException, peer_timeout_s: int) -> None:
  """After `error` in a group, waits for JAX to confirm that a peer was lost.

  A dead peer shows first as a failed collective ("Connection reset by peer"); JAX's
  coordination service ends this process once the heartbeat timeout has passed, and
  the supervisor names the lost process. Returns at once for other errors, and after
  the wait if nothing ended the process, so the error is reported as it is.
  """
  if jax.process_count() > 1 and _PEER_FAILURE.search(str(error)):
    time.sleep(peer_timeout_s + 15)


def is_primary() -> bool:
  """Whether this process writes logs, the progress bar and the run folder's files."""
  return jax.process_index() == 0


def sync(name: str) -> None:
  """Waits until every process reaches the barrier `name` (nothing with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def check_same(what: str, text: str) -> None:
  """Raises ValueError on every process unless all give the same `text` (e.g. a config).

  Compares a digest of it across processes, so processes started with different
  arguments stop at once instead of training different things in lock step.
  """
  if jax.process_count() == 1:
    return
  digest = np.frombuffer(hashlib.sha256(text.encode()).digest()[:8], np.int64)
  digests = np.asarray(multihost_utils.process_allgather(digest)).reshape(-1)
  differ = [p for p, d in enumerate(digests) if d != digests[0]]
  if differ:
    raise ValueError(f"the processes were started with different {what}: process "
                     f"{differ[0]} differs from process 0; start all with the same arguments")


def any_process(flag: bool) -> bool:
  """Whether `flag` is true on any process (the same answer on all of them)."""
  if jax.process_count() == 1:
    return flag
  flags = multihost_utils.process_allgather(np.array(int(flag), np.int32))
  return bool(np.any(flags))


def primary_outcome(error: BaseException | None) -> None:
  """Tells every process whether the primary failed at a step only it takes (the lock).

  Every process calls it once after that step: the primary with its error or None,
  the others with None. The others then raise ValueError when the primary failed, so
  none waits for it at a later barrier. Nothing happens with one process.
  """
  if jax.process_count() == 1:
    return
  failed = multihost_utils.broadcast_one_to_all(np.array(int(error is not None), np.int32))
  if int(failed) and not is_primary():
    raise ValueError("process 0 could not open the run (its output says why)")
