"""Receptive fields, costs and memory of any JAX model, read from its jaxpr.

Every function takes `fn` (a function of one input array, or of `(variables, x)`
when `variables` is given) and `x` (an array or jax.ShapeDtypeStruct): a model of
the zoo, a user's own Flax module or a hand-written `lax` function alike.

  receptive_field(fn, x)            per-layer n, r, jump, start; feature_box, features_seeing
  receptive_field_from_layers(...)  the same arithmetic from [kernel, stride, padding] lists
  dependency_map(fn, x)             the field measured with a gradient (empirical check)
  effective_receptive_field(fn, x)  Luo et al.'s effective field, plot_effective_receptive_field
  cost(fn, x)                       per-layer params, MACs, FLOPs, activation bytes; XLA's figures
  training_memory / max_batch       memory of a training step; the batch that fits
"""
from jcnn.analysis.cost import CostReport, LayerCost, cost
from jcnn.analysis.effective_rf import (EffectiveField, dependency_map, dependency_maps,
                                        effective_receptive_field,
                                        plot_effective_receptive_field, random_weights,
                                        support_box)
from jcnn.analysis.memory import (OPTIMIZER_COPIES, TrainingMemory, max_batch, training_memory,
                                  xla_train_step_memory)
from jcnn.analysis.receptive_field import receptive_field
from jcnn.analysis.rf_arithmetic import receptive_field_from_layers
from jcnn.analysis.rf_table import (AxisField, Box, FeatureBox, LayerField, OutputField,
                                    ReceptiveFieldTable, feature_box, features_seeing)

__all__ = [
    "AxisField", "Box", "CostReport", "EffectiveField", "FeatureBox", "LayerCost", "LayerField",
    "OPTIMIZER_COPIES", "OutputField", "ReceptiveFieldTable", "TrainingMemory", "cost",
    "dependency_map", "dependency_maps", "effective_receptive_field", "feature_box",
    "features_seeing", "max_batch", "plot_effective_receptive_field", "random_weights", "receptive_field",
    "receptive_field_from_layers", "support_box", "training_memory", "xla_train_step_memory",
]
