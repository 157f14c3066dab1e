"""Every command the pages show in a ```bash block, and how it is checked (tests/test_docs.py).

A command is written as tests/test_docs.py normalises it: continuation lines joined,
comments dropped, spaces collapsed, environment prefixes (`JCNN_DATA_DIR=...`) kept.
How it is checked, one of:

  "run here"                   tests/test_docs.py runs it from the repository root: exit 0
  "run here: exits N (why)"    the same, where the program's documented status is N
  "ci"                         .ci/run runs this very line (the front page's test command)
  "test: FILE: TOKEN"          FILE, a test, runs the command or its arguments; TOKEN, a
                               piece of the command (a config, a subcommand, a flag), is in
                               both, so a test that no longer mentions it fails here
  "accuracy suite: FILE: TOKEN"  the same, FILE in tests/accuracy/ (trained to its number)
  "extra: NAME"                pyproject.toml declares the optional dependencies NAME
  "not run: WHY"               nothing here can run it (a GPU, a cluster, a downloaded file)
"""

COMMANDS = {
    # README.md: the first commands, installing, the two programs.
    "pip install -e . && python -m train": "test: tests/test_install.py: install",
    "pip install -e '.[test]' && python -m pytest -n 2 -m \"not slow and not accuracy\"": "ci",
    "pip install .": "test: tests/test_install.py: install",
    "pip install -e '.[test]'": "extra: test",
    "pip install -e '.[torch]'": "extra: torch",
    "pip install -e '.[cuda12]'": "extra: cuda12",
    "jcnn-train --config resnet20_cifar10": "test: tests/test_install.py: jcnn-train",
    "jcnn-train --study data_augmentation --workdir runs/da":
        "accuracy suite: tests/accuracy/test_claims.py: data_augmentation",
    "jcnn-eval --workdir runs/lenet5_digits": "test: tests/test_install.py: jcnn-eval",

    # docs/training.md
    "JCNN_DATA_DIR=../shared/data python -m train --config lenet5_mnist":
        "accuracy suite: tests/accuracy/test_claims.py: lenet5_mnist",
    "python -m train --config.optimizer=momentum --config.learning_rate=0.01 "
    "--config.schedule=exponential --config.decay_rate=0.99":
        "test: tests/train/test_cli.py: --config.learning_rate=",
    "python -m train --helpshort": "run here",
    "python -m eval --workdir runs/lenet5_digits":
        "test: tests/eval/test_eval_program.py: --workdir",
    "python -m eval --workdir runs/lenet5_digits --json --step 840":
        "test: tests/eval/test_eval_program.py: --step",
    "python -m eval --workdir runs/lenet5_mnist --watch":
        "test: tests/eval/test_eval_program.py: --watch",
    "python -m eval predict --workdir runs/lenet5_digits my_digit.png":
        "test: tests/eval/test_eval_program.py: predict",
    "python -m eval predict --workdir runs/lenet5_digits photos/ --output results.csv":
        "test: tests/eval/test_eval_program.py: results.csv",

    # docs/multi_host.md
    "XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m train --workdir runs/four":
        "test: tests/jcnn/training/test_multidevice.py: --xla_force_host_platform_device_count=4",
    "python -m train --config resnet20_cifar10 --workdir runs/r20":
        "not run: a GPU job (about 3 h on 2 CPU cores)",
    "srun --nodes=4 --ntasks-per-node=1 python -m train --config … --workdir /shared/runs/r20":
        "not run: needs a SLURM cluster",
    "python -m train --config … --workdir /mnt/shared/runs/r20": "not run: needs a TPU pod slice",
    "XLA_FLAGS=--xla_force_host_platform_device_count=2 OMP_NUM_THREADS=1 python -m train "
    "--workdir runs/two --coordinator=localhost:12355 --num_processes=2 --process_id=$i &":
        "test: tests/train/test_multihost.py: --num_processes=",

    # docs/detection.md
    "python -m train --config faster_rcnn_digits":
        "accuracy suite: tests/accuracy/test_claims.py: faster_rcnn_digits",
    "JCNN_DATA_DIR=../shared/data python -m train --config faster_rcnn_mnist":
        "not run: 17 min on 2 cores; the accuracy suite trains faster_rcnn_digits instead",
    "python -m eval detect --workdir runs/faster_rcnn_mnist":
        "test: tests/jcnn/tasks/test_detection_task.py: detect",
    "python -m eval detect --workdir runs/faster_rcnn_mnist --data voc_dir:MY_VOC_FOLDER":
        "test: tests/eval/test_detect.py: --data",
    "python -m eval predict --workdir runs/faster_rcnn_mnist canvas.png --output drawn/":
        "test: tests/eval/test_detect.py: predict",
    "JCNN_DATA_DIR=../shared/data python -m train --config rcnn_mnist":
        "accuracy suite: tests/accuracy/test_claims.py: rcnn_mnist",
    "JCNN_DATA_DIR=../shared/data python -m train --config sppnet_mnist":
        "accuracy suite: tests/accuracy/test_claims.py: sppnet_mnist",
    "python -m eval detect --workdir runs/rcnn_mnist":
        "test: tests/jcnn/tasks/test_rcnn_task.py: detect",
    "python -m eval predict --workdir runs/sppnet_mnist canvas.png --output drawn/":
        "test: tests/jcnn/tasks/test_rcnn_task.py: drawn",
    "python benchmarks/rcnn_vs_sppnet.py --setup paper":
        "test: tests/benchmarks/test_rcnn_vs_sppnet.py: rcnn_vs_sppnet",

    # docs/studies.md
    "python -m train --study data_augmentation --workdir runs/data_augmentation":
        "accuracy suite: tests/accuracy/test_claims.py: data_augmentation",
    "python -m eval study --workdir runs/data_augmentation --plot study_plots/":
        "test: tests/eval/test_study_command.py: --plot",
    "python -m train --workdir runs/lr --sweep config.learning_rate=1e-3,3e-3 "
    "--sweep config.seed=0,1,2": "test: tests/jcnn/test_studies.py: --sweep",
    "python -m eval ablate --workdir runs/resnet20_cifar10_short --only blocks,bn,tta":
        "test: tests/eval/test_ablate_command.py: --only",

    # docs/visualisation.md
    "python -m train --config small_vgg_cifar10 --config.keep_checkpoints=10":
        "test: tests/eval/test_viz_command.py: keep_checkpoints",
    "python -m eval viz --workdir runs/small_vgg_cifar10 top9 --layer relu3 --num_images 10000":
        "test: tests/eval/test_viz_command.py: top9",
    "python -m eval viz --workdir runs/small_vgg_cifar10 occlusion --index 7 --json":
        "test: tests/eval/test_viz_command.py: occlusion",
    "python -m train --config lenet5_mnist --config.model=small_vgg --config.num_epochs=3 "
    "--config.name=small_vgg_mnist": "test: tests/eval/test_viz_command.py: small_vgg",
    "python -m eval probe --workdir runs/small_vgg_mnist --dataset digits --train_examples 100":
        "test: tests/eval/test_viz_command.py: probe",

    # docs/data.md
    "python -m train --config.dataset=image_folder --config.data_dir=my_photos "
    "--config.image_size=224 --config.flip=true --config.model=resnet18 --workdir runs/photos":
        "test: tests/jcnn/tasks/test_streamed_photos.py: image_size",
    "python -m eval predict --workdir runs/photos my_photos/test/ --output results.csv":
        "test: tests/jcnn/tasks/test_streamed_photos.py: predict",
    "JCNN_DATA_DIR=../shared/data python -m train --config resnet20_cifar10_short_streamed":
        "accuracy suite: tests/accuracy/test_claims.py: resnet20_cifar10_short_streamed",

    # docs/pretrained.md
    "python -m eval import-weights --source torchvision --file resnet50-11ad3fa6.pth "
    "--model resnet50 --workdir runs/resnet50_torchvision":
        "test: tests/eval/test_import_weights.py: import-weights",
    "python -m eval predict --workdir runs/resnet50_torchvision photos/ --output results.csv":
        "test: tests/eval/test_eval_program.py: results.csv",
    "python -m eval viz --workdir runs/resnet50_torchvision saliency --images cat.jpg":
        "test: tests/eval/test_viz_command.py: saliency",
    "python -m eval export --workdir runs/resnet50_torchvision --format stablehlo "
    "--output exports/resnet50": "test: tests/eval/test_export.py: stablehlo",
    "python -m train --config finetune_resnet18_photos --config.data_dir=<photos> "
    "--config.train_examples=0 --config.eval_examples=0 "
    "--config.freeze='^(conv1|bn1|stage[1-3])'":
        "test: tests/train/test_finetune_config.py: finetune_resnet18_photos",
    "python -m eval ablate --workdir runs/finetune_resnet18_photos --only blocks,tta":
        "test: tests/eval/test_ablate_command.py: ablate",
}
