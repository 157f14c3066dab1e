"""`python -m eval models`: the registry as a table."""
import json

from eval import __main__ as eval_main
from jcnn import models


def test_json_lists_every_model_with_its_parameters(capsys):
  assert eval_main.main(["models", "--json"]) == 0
  table = json.loads(capsys.readouterr().out)["models"]
  assert [r["name"] for r in table] == models.list_models()
  lenet = next(r for r in table if r["name"] == "lenet5")
  assert lenet["params"] == 61_706 and lenet["input"] == "32×32×1"


def test_table_and_pattern(capsys):
  assert eval_main.main(["models", "lenet*"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].split()[:4] == ["name", "input", "params", "GMACs"]
  assert [l.split()[0] for l in lines[1:]] == ["lenet5", "lenet5_1998", "lenet_tf"]


def test_unknown_pattern_is_an_error(capsys):
  assert eval_main.main(["models", "nothing*"]) == 2
  assert capsys.readouterr().err.startswith("error: no registered model matches 'nothing*'")
