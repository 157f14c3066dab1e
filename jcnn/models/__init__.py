"""The model zoo: Flax Linen modules built from `jcnn.nn`, and their registry.

One face for all models:
  logits = model.apply(variables, x, train=False)          # x: [B, H, W, C], NHWC
  out = model.apply(variables, x, train=True, rngs={"dropout": key},
                    mutable=["batch_stats"])               # models with BatchNorm
  logits, aux = unpack_outputs(out)   # aux: () or the auxiliary classifiers' logits
  feats = extract_features(model, variables, x)            # {stage name: feature map}
  feature_info(model, (224, 224, 3))                        # channels and stride per stage
"""
import importlib
import pkgutil

from jcnn.models.convolutionalize import convolutionalize
from jcnn.models.features import extract_features, feature_info, record, unpack_outputs
from jcnn.models.registry import ModelInfo, create, info, list_models, register

__all__ = ["ModelInfo", "convolutionalize", "create", "extract_features", "feature_info", "info", "list_models",
           "record", "register", "unpack_outputs"]

# Every other module of this package is a model family that registers itself on import.
_INFRASTRUCTURE = {"convolutionalize", "features", "registry"}
for _module in pkgutil.iter_modules(__path__):
  if _module.name not in _INFRASTRUCTURE:
    importlib.import_module(f"{__name__}.{_module.name}")
