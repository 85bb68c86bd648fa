"""benediff.paths spells the model stages' layout once; the targets modules build on it."""

from types import SimpleNamespace

from benediff import paths
from benediff.config import validate
from benediff.lvm import targets as lvm_targets
from benediff.video import targets as video_targets


def test_patterns_and_files_agree():
    assert paths.lvm_fit("model.pt") == "results/lvm/{session}/{region}/{model}/seed{seed}/model.pt"
    one = paths.lvm_fit("model.pt").format(session="S1", region="VIS_R", model="ours", seed=0)
    assert one == paths.lvm_fit("model.pt", "S1", "VIS_R", "ours", 0)
    assert paths.video("encoder.h5", region="{region}") == "results/video/{session}/{region}/encoder.h5"


def test_the_video_stage_reads_the_lvm_fit_the_lvm_stage_writes():
    cfg = validate({"sessions": {"S1": {"source": "simulate"}}, "lvm": {"seeds": [0, 1]},
                    "video": {"lvm_seed": 1}})
    assert (video_targets.vae_latents(cfg, "S1", "VIS_R")
            == lvm_targets.fit_path("S1", "VIS_R", "ours", 1, "latents.h5"))
    wc = SimpleNamespace(session="S1", region="VIS_R", model="ours", seed="1")
    assert lvm_targets.checkpoint_dir(cfg, wc) == "results/checkpoints/lvm/S1/VIS_R/ours/seed1"
    assert (video_targets.cfg_rule_config(cfg, wc)["checkpoint_dir"]
            == "results/checkpoints/video/S1/VIS_R/cfg")
    inputs = video_targets.generate_inputs(cfg, "S1", "VIS_R", "cfg")
    assert inputs["model"] == "results/video/S1/VIS_R/cfg/model.pt"
    assert inputs["latents"] == "results/video/S1/frame_latents.h5"
