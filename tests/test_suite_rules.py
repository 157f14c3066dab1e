"""The suite's own rules: what CI sets, and how tests that read the real datasets are
marked."""
import subprocess

from tests.helpers import REPO


def test_a_test_reading_the_real_datasets_is_marked_data(shared_data, request):
  assert request.node.get_closest_marker("data") is not None


def test_ci_sets_CI_before_the_test_command_so_missing_data_fails():
  # The variables the script exports before it runs the README's test command, run
  # in a shell whose environment has no CI.
  script = (REPO / ".ci" / "run").read_text()
  exports = [line for line in script[:script.index('eval "$test_command"')].splitlines()
             if line.startswith("export ") and "mktemp" not in line]
  out = subprocess.run(["bash", "-c", "\n".join(exports) + '\necho "CI=${CI:-}"'], cwd=REPO,
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
  assert out.returncode == 0, out.stderr
  assert out.stdout.strip() == "CI=1"
