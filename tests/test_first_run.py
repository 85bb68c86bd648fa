"""The lean first-run preset (config/first_run.yaml) plans ours and the VAE at 2 seeds and no
video job, layered under a config of one's own; and `video.enabled: false` alone leaves the video
stage out of the default target while its files can still be asked for by name."""

from pathlib import Path

from test_study import planned

ROOT = Path(__file__).resolve().parents[1]
DEMO, FIRST = ROOT / "config" / "demo.yaml", ROOT / "config" / "first_run.yaml"
VIDEO_RULES = {"train_video_ae", "encode_frame_latents", "train_vdm", "train_cfg_vdm",
               "train_naive_decoder", "fit_linear_encoder", "generate", "specificity",
               "video_figure"}


def test_first_run_plans_two_models_two_seeds_and_no_video(tmp_path):
    full = planned(tmp_path, [DEMO])
    lean = planned(tmp_path, [DEMO, FIRST])
    assert VIDEO_RULES <= _kinds(full)
    assert not VIDEO_RULES & _kinds(lean), sorted(VIDEO_RULES & _kinds(lean))
    assert lean["lvm_table"] == 3 and lean["lvm_fig4"] == 1
    # vae + ours at seeds 0, 1 for Tables 1-3 and Figs 4, 5 (Figs 7, 12 add one-seed fits):
    # 19 of the demo's 57 fits
    assert _fits(lean, seeds=2) == 19 and _fits(full, seeds=3) == 57


def _kinds(jobs) -> set[str]:
    """Rule names, the demo's grouped rules (lvm.fit_seeds_together,
    video.generation.factors_together) counted as the rule they stand for."""
    return {"lvm_fit" if r.startswith("lvm_fit_seeds_") else
            "generate" if r.startswith("generate_") and r != "generate_unguided" else r
            for r in jobs}


def _fits(jobs, seeds):
    """Fits planned: lvm_fit jobs (one each) and the lvm.fit_seeds_together jobs (all seeds)."""
    return jobs.get("lvm_fit", 0) + seeds * sum(n for r, n in jobs.items()
                                                 if r.startswith("lvm_fit_seeds_"))


def test_a_video_file_asked_by_name_still_plans_with_the_stage_off(tmp_path):
    off = tmp_path / "off.yaml"
    off.write_text("video: {enabled: false}\n")
    jobs = planned(tmp_path, [DEMO, off], ["results/figures/fig6.pdf"])
    assert "generate" in _kinds(jobs) and jobs["train_vdm"] == 1
