"""Every timm map, proven on weights timm itself draws (random, with random batch-norm
statistics and biases): saved as timm's checkpoints are (safetensors and torch.save),
imported from each file alike, and run on the same picture, each side normalised as
timm's config for the network says, the logits and one map per stage (timm's
`feature_info`) equal timm's within 1e-4 (max |error| / max |value|). The comparison is
`tests.pretrained_sources.parity`, which benchmarks/pretrained_parity.py stores for
docs/pretrained.md."""
import pytest

from jcnn import pretrained
from tests import pretrained_sources

MODELS = sorted(pretrained.SOURCES["timm"])
TOLERANCE = 1e-4


@pytest.mark.parametrize("model", MODELS)
def test_a_timm_network_ports_from_either_format_with_its_logits_and_stage_maps(model,
                                                                                  tmp_path):
  result = pretrained_sources.parity("timm", model, tmp_path)
  assert result["formats_differ"] == []
  errors = pretrained_sources.errors(result)
  print(f"{model}: max relative logit error {errors['logits']:.2e}")
  assert len(result["stages"]) == 5 and max(errors.values()) < TOLERANCE, errors
