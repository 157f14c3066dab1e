"""The non-finite guard: a step whose loss or new state is not finite is not applied,
and `config.max_nonfinite_steps` of them in a row stop the run."""
import jax
import jax.numpy as jnp

from jcnn import parallel
from jcnn.tasks import all_finite


class NonFiniteError(RuntimeError):
  """Too many consecutive steps had a non-finite loss or update."""


def guarded_step(train_step, schedule):
  """Wraps a task's step: non-finite steps are dropped and counted.

  Returns `step(state, batch, guard) -> (state, metrics, guard)`, where `guard` holds
  int32 counts `consecutive` (non-finite steps in a row) and `skipped` (in all). A
  dropped step leaves parameters, optimizer state, statistics and EMA as they were;
  only the step counter moves on, so the next step draws the next batch and key.
  """

  def step(state, batch, guard):
    new_state, metrics = train_step(state, batch)
    ok = jnp.isfinite(metrics["loss"]) & all_finite(new_state)
    unchanged = state.replace(step=new_state.step)
    new_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), new_state, unchanged)
    bad = jnp.where(ok, 0, 1).astype(jnp.int32)
    guard = {"consecutive": (guard["consecutive"] + bad) * bad,
             "skipped": guard["skipped"] + bad}
    return new_state, {**metrics, "learning_rate": schedule(state.step)}, guard

  return step


def new_guard(mesh) -> dict:
  """The guard's counts at the start of a process: nothing skipped yet."""
  zero = jnp.zeros((), jnp.int32)
  return jax.device_put({"consecutive": zero, "skipped": zero}, parallel.replicated(mesh))


def jit_train_step(step, mesh):
  """Compiles the guarded step over the mesh: state replicated and donated, batch split."""
  replicated = parallel.replicated(mesh)
  return jax.jit(parallel.traced_on(mesh, step),
                 in_shardings=(replicated, parallel.batch_sharded(mesh), replicated),
                 out_shardings=(replicated, replicated, replicated), donate_argnums=(0,))


def check_nonfinite(counted, step: int, max_nonfinite_steps: int, run, log, guard) -> None:
  """Raises NonFiniteError once `counted` has `max_nonfinite_steps` in a row.

  Before raising it logs the train record of `step` (`log`, a `TrainLog`, with the
  window's metrics and `guard`): the steps skipped since the last record.
  """
  consecutive = int(counted["consecutive"])
  if consecutive >= max_nonfinite_steps:
    log.train(step, guard)
    kept = run.steps()
    last = f"the last checkpoint, step {kept[-1]}, is kept" if kept else "no checkpoint was saved"
    raise NonFiniteError(
        f"stopped at step {step}: {consecutive} consecutive steps had a non-finite loss "
        f"or update (config.max_nonfinite_steps={max_nonfinite_steps}) and none "
        f"was applied; {last}. Lower config.learning_rate or check the data")
