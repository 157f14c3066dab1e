"""Sums of a per-batch metric step over a dataset, on the device mesh."""
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jcnn import parallel


def jit_sums(sums_step: Callable, mesh: Mesh) -> Callable:
  """Compiles `sums_step(variables, batch) -> sums` over the mesh: batch split."""
  return jax.jit(parallel.traced_on(mesh, sums_step),
                 in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
                 out_shardings=parallel.replicated(mesh))


def total(step_fn: Callable, variables, batches: Iterable[dict], mesh: Mesh) -> dict:
  """Runs a compiled sums step over `batches`; returns the totals as Python floats."""
  totals = None
  for batch in batches:
    sums = step_fn(variables, parallel.put_batch(batch, mesh))
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
  if totals is None:
    raise ValueError("evaluation got no batches: the split is empty")
  return jax.tree.map(lambda v: float(np.asarray(v)), jax.device_get(totals))
