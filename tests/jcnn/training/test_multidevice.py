"""Data parallel over 4 CPU devices equals 1 device; training runs on 4."""
import json
import os
import subprocess
import sys

from tests.helpers import REPO

_SCRIPT = r"""
import json, sys
import jax, numpy as np
from jcnn import optim, parallel, tasks, training
from jcnn import state as state_lib
from jcnn.tasks import classification
from train.configs import default

assert jax.device_count() == 4, jax.devices()
config = default.get_config()
config.model, config.resize, config.batch_size = "lenet_tf", 28, 64
split = classification.load_split(config, "train")
info = classification.dataset_info(config, split)
batches = list(b for _, b in zip(range(3), classification.batches(config, split, info, train=True)))

def run(num_devices):
  mesh = parallel.make_mesh(num_devices)
  schedule = optim.make_schedule(config, 21, 100)
  model = tasks.get("classification").model(config, info)
  state = jax.device_put(
      state_lib.create(model, optim.make_optimizer(config, schedule),
                       rng=jax.random.PRNGKey(0), input_shape=(28, 28, 1)),
      parallel.replicated(mesh))
  step = training.jit_train_step(
      training.guarded_step(classification.train_step(config), schedule), mesh)
  guard = training.new_guard(mesh)
  losses = []
  for batch in batches:
    state, metrics, guard = step(state, parallel.put_batch(batch, mesh), guard)
    losses.append(float(metrics["loss"]))
  assert len(state.params["fc1"]["kernel"].sharding.device_set) == num_devices
  return losses, jax.device_get(state.params)

loss1, params1 = run(1)
loss4, params4 = run(4)
diff = max(float(np.max(np.abs(a - b))) for a, b in
           zip(jax.tree.leaves(params1), jax.tree.leaves(params4)))
config.model, config.resize, config.num_epochs = "lenet5", 32, 1
results = training.train_and_evaluate(config, sys.argv[1])
print(json.dumps({"loss1": loss1, "loss4": loss4, "param_diff": diff, "results": results}))
"""


def test_four_devices_match_one_and_train(tmp_path):
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
         "PYTHONPATH": str(REPO)}
  proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "run")], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  for a, b in zip(out["loss1"], out["loss4"]):
    assert abs(a - b) <= 1e-5
  assert out["param_diff"] <= 1e-5
  assert out["results"]["num_examples"] == 450 and out["results"]["top1"] > 0.5
