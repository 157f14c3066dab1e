"""Import a network trained elsewhere (torchvision, Keras) as a new run folder.

Reads --file without running anything it carries (PyTorch's zip through a restricted
unpickler, safetensors, Keras through h5py), ports every tensor to the zoo model
--model and writes an ordinary classification run in --workdir: the config, the dataset
info (ImageNet's 1,000 classes, the source's input normalisation, the file's sha256) and
one checkpoint at step 0. `evaluate`, `predict`, `viz`, `ablate` and `config.init_from`
take it as any run. The one command that writes: a new folder, never an existing one.

Examples:
  python -m eval import-weights --source torchvision --file resnet50-0676ba61.pth \\
      --model resnet50 --workdir runs/resnet50_torchvision
  python -m eval import-weights --source keras --file vgg16.keras --model vgg16 \\
      --workdir runs/vgg16_keras
"""
import json

from jcnn import models, pretrained


def add_arguments(parser) -> None:
  maps = "; ".join(f"{source}: {', '.join(sorted(m))}" for source, m in pretrained.SOURCES.items())
  parser.add_argument("--source", required=True, choices=sorted(pretrained.SOURCES),
                      help="the framework the weights come from")
  parser.add_argument("--file", required=True, help="the weight file (.pth, .safetensors, "
                      ".keras, .h5)")
  parser.add_argument("--model", required=True, help=f"the zoo model to port to ({maps})")
  parser.add_argument("--workdir", required=True, help="the new run folder (must not exist)")
  parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def run(args) -> None:
  workdir = pretrained.import_run(args.source, args.file, args.model, args.workdir)
  port = pretrained.find_map(args.source, args.model)
  count = models.info(port.model).num_params
  if args.json:
    print(json.dumps({"workdir": str(workdir), "source": port.source, "model": port.model,
                      "num_params": count}))
    return
  print(f"{port.source} -> {port.model} ({count:,} parameters) in {workdir}; try: "
        f"python -m eval predict --workdir {workdir} IMAGE")
