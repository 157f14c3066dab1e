"""Seeing what a CNN learned (Zeiler & Fergus 2014): pure functions on a model's
function and variables, for any zoo model and any checkpoint.

backprojection   deconvnet, guided backpropagation and the gradient (saliency)
top_hits         each feature map's top-k hits, their patches and projections
occlusion        maps of a sliding grey square's effect
evolution        the strongest hits across a run's checkpoints
invariance       feature distances under shifts, scaling and rotation
render           arrays to pixels, grids and PNG files
"""
from jcnn.viz.backprojection import (RULES, Backprojector, class_projections, keep_channel,
                                     keep_units)
from jcnn.viz.evolution import Evolution, feature_evolution
from jcnn.viz.invariance import invariance_curves, warp
from jcnn.viz.layers import check_layer, conv_kernel, feature_fn, layer_names, logits_fn
from jcnn.viz.occlusion import OcclusionMaps, occlusion_maps
from jcnn.viz.top_hits import Hits, TopActivations, hits, top_activations

__all__ = [
    "RULES", "Backprojector", "Evolution", "Hits", "OcclusionMaps", "TopActivations",
    "check_layer", "class_projections", "conv_kernel", "feature_evolution", "feature_fn", "hits",
    "invariance_curves", "keep_channel", "keep_units", "layer_names", "logits_fn",
    "occlusion_maps", "top_activations", "warp",
]
