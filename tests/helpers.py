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
