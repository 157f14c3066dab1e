"""The model zoo: Flax Linen modules built from `jcnn.nn`, and their registry."""
from jcnn.models import lenet  # noqa: F401  (registers its models)
from jcnn.models.registry import ModelInfo, create, info, list_models, register

__all__ = ["ModelInfo", "create", "info", "list_models", "register"]
