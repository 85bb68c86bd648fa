"""Build an untrained, randomly initialised DLC 3 model folder offline (for CI and smoke tests).

    python -m benediff.behavior.dlc_model --out D --bodyparts nose paw [--resnet18]

Writes ``D/pytorch_config.yaml`` + ``D/snapshot-000.pt`` exactly as a trained model would be
shipped, without a project, training or any download (``pretrained_backbone=False``).
Runs in the DLC venv.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from benediff.behavior import tv_shim  # noqa: E402,F401  (must precede any torchvision import)

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def project_config(bodyparts, task="benediff") -> dict:
    return {"Task": task, "scorer": "benediff", "date": "Jan1", "multianimalproject": False,
            "bodyparts": list(bodyparts), "project_path": ".", "engine": "pytorch",
            "TrainingFraction": [0.95], "iteration": 0, "default_net_type": "resnet_50"}


def shrink_to_resnet18(cfg: dict) -> dict:
    """Swap the resnet50 backbone for resnet18 (512 output channels) and drop the 448 px crops."""
    cfg["model"]["backbone"]["model_name"] = "resnet18"
    cfg["model"]["backbone_output_channels"] = 512
    for head in cfg["model"]["heads"].values():
        for name in ("heatmap_config", "locref_config"):
            if name in head:
                head[name]["channels"][0] = 512
    cfg.get("data", {}).get("train", {}).pop("crop_sampling", None)
    return cfg


def build_random_model(out, bodyparts, resnet18: bool = True, seed: int = 0) -> Path:
    """Write a random-init model folder; returns the snapshot path."""
    import torch
    from deeplabcut.core.config import read_config_as_dict
    from deeplabcut.pose_estimation_pytorch.config import PoseConfig
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "pytorch_config.yaml"
    PoseConfig.build(project_config(bodyparts), cfg_path, top_down=False,
                     net_type="resnet_50", save=True)
    cfg = read_config_as_dict(cfg_path)
    if resnet18:
        cfg = shrink_to_resnet18(cfg)
        _write_yaml(cfg, cfg_path)
    torch.manual_seed(seed)
    model = PoseModel.build(cfg["model"], pretrained_backbone=False)
    snapshot = out / "snapshot-000.pt"
    torch.save({"model": model.state_dict()}, snapshot)
    return snapshot


def _write_yaml(cfg, path):
    import yaml

    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--bodyparts", nargs="+", required=True)
    parser.add_argument("--resnet50", action="store_true", help="keep resnet50 (default resnet18)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_random_model(args.out, args.bodyparts, not args.resnet50, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
