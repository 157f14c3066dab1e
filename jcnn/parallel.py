"""Device mesh and shardings for data-parallel steps.

One code path for one device and for N: a 1-D ('data',) mesh, the batch split along
it, the train state replicated. `jax.jit` with these shardings inserts the gradient
all-reduce (and global BatchNorm statistics) itself.
"""
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(num_devices: int | None = None) -> Mesh:
  """A 1-D mesh over the first `num_devices` devices (all of them when None)."""
  devices = jax.devices()
  if num_devices is None or num_devices <= 0:
    num_devices = len(devices)
  if num_devices > len(devices):
    raise ValueError(f"asked for {num_devices} devices but only {len(devices)} are "
                     f"available ({devices[0].platform}); on CPU, set XLA_FLAGS="
                     f"--xla_force_host_platform_device_count={num_devices} before jax starts")
  return Mesh(np.array(devices[:num_devices]), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  """Sharding that keeps a full copy on every device (the train state)."""
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  """Sharding that splits the leading (batch) axis over the mesh."""
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  """Raises unless the batch splits evenly over the mesh."""
  n = mesh.devices.size
  if batch_size % n:
    raise ValueError(f"batch_size {batch_size} is not divisible by the {n} devices of the mesh")


def put_batch(batch: dict, mesh: Mesh) -> dict:
  """Moves a host batch onto the mesh, split along the batch axis."""
  return jax.device_put(batch, batch_sharded(mesh))
