"""The model zoo: Flax Linen modules built from `jcnn.nn`, and their registry.

One face for all models:
  logits = model.apply(variables, x, train=False)          # x: [B, H, W, C], NHWC
  out = model.apply(variables, x, train=True, rngs={"dropout": key},
                    mutable=["batch_stats"])               # models with BatchNorm
  logits, aux = unpack_outputs(out)   # aux: () or the auxiliary classifiers' logits
  feats = extract_features(model, variables, x)            # {stage name: feature map}
  feature_info(model, (224, 224, 3))                        # channels and stride per stage
  num_params(abstract_variables(model, (224, 224, 3))["params"])   # no compute
  backbone("vgg16")      # where a detector cuts a zoo model (its registry entry says)

The detectors' networks built on the zoo are here too: `faster_rcnn.FasterRCNN`
(Ren et al. 2015) and `sppnet.SPPNet` (He et al. 2014).
"""
from jcnn.models.convolutionalize import convolutionalize
from jcnn.models.features import extract_features, feature_info, record, unpack_outputs
from jcnn.models.registry import Backbone, ModelInfo, backbone, create, info, list_models, register
from jcnn.models.variables import abstract_variables, num_params

# The model families, one module each: importing one registers its models.
from jcnn.models import (alexnet, cifar_convnet, googlenet, inception_resnet, inception_v2,
                         inception_v3, inception_v4, lenet, lenet1998, mobilenet, nin, resnet,
                         small_vgg, vgg)

__all__ = ["Backbone", "ModelInfo", "abstract_variables", "backbone", "convolutionalize",
           "create", "extract_features", "feature_info", "info", "list_models", "num_params",
           "record", "register", "unpack_outputs"]
