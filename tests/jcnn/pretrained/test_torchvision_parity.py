"""Every torchvision map, proven on weights torchvision itself draws (random, with random
batch-norm statistics and biases): saved with torch.save, imported, and run on the same
picture, each side normalised as its weights expect, the logits, one map per stage and
the auxiliary classifiers' logits equal torchvision's within 1e-4 (max |error| /
max |value|). The comparison is `tests.pretrained_sources.parity`, which
benchmarks/pretrained_parity.py stores for docs/pretrained.md."""
import pytest

from jcnn import pretrained
from tests import pretrained_sources

MODELS = sorted(pretrained.SOURCES["torchvision"])
TOLERANCE = 1e-4


@pytest.mark.parametrize("model", MODELS)
def test_a_torchvision_network_ports_with_its_logits_and_stage_maps(model, tmp_path):
  result = pretrained_sources.parity("torchvision", model, tmp_path)
  errors = pretrained_sources.errors(result)
  print(f"{model}: max relative logit error {errors['logits']:.2e}")
  assert len(result["stages"]) >= 5 and max(errors.values()) < TOLERANCE, errors

