"""benchmarks/gpu_check.py at toy sizes on the CPU, so the GPU check cannot rot."""

import importlib.util
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_toy_run_times_every_piece_and_extrapolates(capsys):
    hours = gpu_check.main(["--device", "cpu", "--toy", "--vdm-steps", "10",
                            "--generated-trials", "2", "--vae-fits", "2", "--cebra-fits", "1"])
    out = capsys.readouterr().out
    for line in ("VDM training step", "unguided", "guided", "VAE epoch", "total"):
        assert line in out
    assert set(hours) == {"VDM training", "CFG VDMs", "generation", "VAE fits", "CEBRA fits",
                          "DeepLabCut"}
    assert all(math.isfinite(v) and v >= 0 for v in hours.values())
    assert hours["VDM training"] > 0 and hours["generation"] > 0 and hours["VAE fits"] > 0
    assert gpu_check.per_unit(1.0, 3.0, 1, 3) == 1.0  # 2 s for 2 more units
    assert gpu_check.per_unit(2.0, 1.9, 1, 2) == 0.95  # noise: the longer run's average
