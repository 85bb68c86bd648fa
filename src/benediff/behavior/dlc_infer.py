"""Project-free DeepLabCut 3 inference (PyTorch engine) as a CLI for the DLC venv.

    python -m benediff.behavior.dlc_infer --model-dir D --video V --out pose.h5 --device cpu

The model folder holds ``pytorch_config.yaml`` + ``snapshot-*.pt`` (no DLC project needed).
Runs in its own venv (DLC pins ``packaging>=26``, Snakemake ``<26``); needs only DeepLabCut,
pandas and tables there. No hub downloads: HF_HUB_OFFLINE is forced on.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # fail at once instead of retrying downloads

from benediff.behavior import tv_shim  # noqa: E402,F401  (must precede any torchvision import)

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benediff.device import resolve_device  # noqa: E402
from benediff.jobs import record_usage  # noqa: E402
from benediff.io.pose import check_model_dir, make_pose_frame, write_pose  # noqa: E402

log = logging.getLogger(__name__)


class VideoNotFound(ValueError):
    """The video given to the DLC CLI does not exist."""


def scorer_name(config: dict, snapshot: Path) -> str:
    """DLC-style scorer naming the network and snapshot (informative only, never in a path)."""
    net = str(config.get("net_type", "model")).replace("_", "")
    return f"DLC_{net}_{snapshot.parent.name}_{snapshot.stem}"


def run_inference(model_dir, video, out, device: str = "cpu", batch_size: int = 8,
                  threads: int = 1, gpu_fallback: str = "warn"):
    """Predict every frame of ``video``; write a single-animal DLC ``.h5``/``.csv`` to ``out``."""
    config_path, snapshot = check_model_dir(model_dir)  # fail before the slow DLC import
    if not Path(video).exists():
        raise VideoNotFound(f"{video}: behaviour video does not exist; fix the --video path")
    import torch
    import deeplabcut.pose_estimation_pytorch as pep
    from deeplabcut.core.config import read_config_as_dict

    torch.set_num_threads(threads)
    config = read_config_as_dict(config_path)
    device = resolve_device(device, gpu_fallback)
    log.info("DLC inference: %s with %s on %s", video, snapshot.name, device)
    runner = pep.get_pose_inference_runner(config, snapshot, batch_size=batch_size, device=device)
    predictions = pep.video_inference(str(video), runner)
    values = np.stack([p["bodyparts"][0] for p in predictions])  # individual 0: single animal
    df = make_pose_frame(scorer_name(config, snapshot), config["metadata"]["bodyparts"], values)
    write_pose(df, out)
    return df


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True,
                        help="folder with pytorch_config.yaml + snapshot-*.pt")
    parser.add_argument("--video", required=True)
    parser.add_argument("--out", required=True, help="output .h5 (or .csv) in DLC layout")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gpu-fallback", choices=["warn", "fail"], default="warn")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    record_usage("dlc_infer")  # the results ledger's cost per stage (stderr is the rule's log)
    run_inference(args.model_dir, args.video, args.out, args.device, args.batch_size,
                  args.threads, args.gpu_fallback)
    return 0


if __name__ == "__main__":
    sys.exit(main())
