"""Trained networks from other frameworks, read from files the user has (no download).

    imported = pretrained.load("torchvision", "resnet50-0676ba61.pth", "resnet50")
    logits = imported.model.apply(imported.variables, x)      # x: [B, H, W, 3] normalised
    pretrained.import_run("keras", "vgg16.keras", "vgg16", "runs/vgg16_keras")

`readers` reads PyTorch, safetensors and Keras files without running code they carry;
one module per source holds its name maps (`torchvision`, `timm`, `keras`), and
`importer` checks every tensor against the zoo model and writes an ordinary run
(`python -m eval import-weights`).
"""
from jcnn.pretrained.importer import SOURCES, Imported, find_map, import_run, load, run_config
from jcnn.pretrained.readers import WeightFileError

__all__ = ["SOURCES", "Imported", "WeightFileError", "find_map", "import_run", "load",
           "run_config"]
