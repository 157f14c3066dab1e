"""`python -m train` as a user runs it: --help, overrides, and one-line errors."""
import pytest

from tests.helpers import REPO, run_program


@pytest.mark.parametrize("flag", ["--helpshort", "-h", "--help"])
def test_help_explains_the_program(flag):
  proc = run_program("train", flag)
  assert proc.returncode == 0, proc.stderr[-2000:]  # absl's own status would be 1
  assert "resumes from the latest checkpoint" in proc.stdout and "Examples:" in proc.stdout
  assert "--workdir" in proc.stdout and "--config" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--config.model=lenet6"], "unknown model 'lenet6'; did you mean lenet5"),
    (["--config.optimizer=adagrad"], "unknown optimizer 'adagrad'"),
    (["--config.dataset=no_such_set"], "no_such_set"),
    (["--workdir=/etc/hostname"], "is not a folder"),
])
def test_bad_input_is_one_line_and_nonzero(args, message):
  proc = run_program("train", *args)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
  assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]


@pytest.mark.parametrize("args, line", [
    (["--config.lerning_rate=0.1"],
     "error: --config.lerning_rate: unknown config field 'lerning_rate'; did you mean "
     "learning_rate?"),
    ([f"--config={REPO}/train/configs/lenet5_mnist.py", "--config.lerning_rate=0.1"],
     "error: --config.lerning_rate: unknown config field 'lerning_rate'; did you mean "
     "learning_rate?"),
    (["--config.image_sise=64"],
     "error: --config.image_sise: unknown config field 'image_sise'; did you mean image_size?"),
    (["--config.learning_rate=fast"],
     "error: --config.learning_rate=fast: could not convert string to float: 'fast'"),
    (["--config=train/configs/nope.py"],
     "error: --config: No such file or directory: 'train/configs/nope.py'"),
    (["--config", "lenet5_mnist", "--config.lerning_rate=0.1"],  # a shipped config by name
     "error: --config.lerning_rate: unknown config field 'lerning_rate'; did you mean "
     "learning_rate?"),
    (["--config=resnet20_cifr10"],
     "error: --config: no shipped config named 'resnet20_cifr10'; did you mean "
     "resnet20_cifar10 or resnet18_cifar10 or resnet20_cifar10_short? (a file of your own "
     "is given by its path; `--help` lists the shipped ones)"),
    (["--study", "kernel_stak"],
     "error: --study: no shipped study named 'kernel_stak'; did you mean kernel_stack or "
     "relu_vs_tanh? (a file of your own is given by its path; `--help` lists the shipped "
     "ones)"),
    (["--study", "kernel_stack", "--only=nope"],  # a shipped study by name: it loads
     "error: --only nope: the study's variants are 3x3_stack, 7x7"),
    (["--workdri=runs/x"], "error: unknown flag --workdri; did you mean --workdir?"),
    (["--num-processes=two"],  # the hyphenated spelling is the same flag
     "error: --num_processes=two: invalid literal for int() with base 10: 'two'"),
    (["runs/x"], "error: unexpected arguments: runs/x"),
])
def test_a_flag_or_override_mistake_is_exactly_one_line_and_status_2(tmp_path, args, line):
  proc = run_program("train", f"--workdir={tmp_path}", *args, cwd=tmp_path)  # from anywhere
  assert (proc.returncode, proc.stderr, proc.stdout) == (2, line + "\n", "")
  assert not list(tmp_path.iterdir())  # nothing written


def test_a_run_prints_jcnn_lines_only(tmp_path):
  # No TensorFlow banners (oneDNN opts, CPU features, absl pre-init notes), no orbax INFO.
  train = run_program("train", f"--workdir={tmp_path}", "--config.num_train_steps=3",
                      "--config.checkpoint_every_steps=3", "--config.log_every_steps=1")
  assert train.returncode == 0, train.stderr[-2000:]
  evaluate = run_program("eval", f"--workdir={tmp_path}", "--json")
  assert evaluate.returncode == 0, evaluate.stderr[-2000:]
  assert evaluate.stderr == ""
  lines = [l for l in train.stderr.replace("\r", "\n").splitlines() if l.strip()]
  foreign = [l for l in lines if not l.startswith(("lenet5_digits:", "step 3: eval"))]
  assert not foreign, foreign
