"""One config slice per rule.

``rule_config(config, rule, wildcards)`` returns exactly the config one rule uses; the rule's
params are that slice and nothing else (``params: **rule_params("<rule>")`` in common.smk), so
Snakemake reruns a job only when a key it reads changes. ``RULE_KEYS`` names the keys each slice
may read (dotted prefixes, ``{session}`` / ``{region}`` / ``{model}`` filled from the wildcards);
tests/test_rule_config.py changes every other leaf key of the resolved demo config and checks
that the slice stays the same. Stage logic comes from the stage's ``targets`` module.
"""

_IO = ("format", "channels", "channel_order", "chunk_frames", "bad_frames", "motion")
WIDEFIELD_KEYS = {  # the keys of config["widefield"] each widefield step reads
    "widefield_motion": _IO,
    "widefield_atlas": _IO + ("atlas", "merge_regions", "grouping"),
    "widefield_landmarks": _IO + ("atlas", "merge_regions", "grouping"),
    "widefield_svd": _IO + ("svd", "baseline"),
    "widefield_hemo": ("channels", "frame_rate", "motion", "hemo"),
    "widefield_locanmf": ("locanmf", "min_pixels", "whiteness"),
    "widefield_neural": ("grouping", "frame_rate"),
}
_RUNTIME = ("seed", "device", "gpu_fallback")
_SESSION = "sessions.{session}"


def _keys(section: dict, keys) -> dict:
    return {k: section[k] for k in keys if k in section}


def _session_format(config, wc):
    return config["sessions"][wc.session].get("widefield_format", "auto")


def _timestamps(config, wc):
    s = config["sessions"][wc.session]
    return {"video": s.get("video_timestamps"), "neural": s.get("neural_timestamps")}


def _widefield(rule, extra=()):
    def slice_(config, wc):
        out = {"cfg": _keys(config["widefield"], WIDEFIELD_KEYS[rule])}
        if "fmt" in extra:
            out["fmt"] = _session_format(config, wc)
        if "device" in extra:
            out |= {"device": config["device"], "gpu_fallback": config["gpu_fallback"]}
        if "seed" in extra:
            out["seed"] = config["seed"]
        return out
    return slice_


def _widefield_provenance(config, wc):
    return {"seed": config["seed"], "widefield": config["widefield"],
            "sessions": {wc.session: config["sessions"][wc.session]}}


def _lvm(name):
    def slice_(config, wc):
        from benediff.lvm import targets
        return getattr(targets, name)(config, wc)
    return slice_


def _video(name):
    def slice_(config, wc):
        from benediff.video import targets
        return getattr(targets, name)(config, wc)
    return slice_


def _behavior_labels(config, wc):
    b = config["behavior"]
    prov = {"behaviors": config["behaviors"],
            "behavior": {"labels": b["labels"], "neural_rate": b["neural_rate"]}}
    return {"behaviors": config["behaviors"], "labels": b["labels"],
            "neural_rate": b["neural_rate"], "timestamps": _timestamps(config, wc),
            "stage_config": prov}


def _behavior_clips(config, wc):
    b = config["behavior"]
    keys = ("clips", "neural_rate", "video_fps", "fps_tolerance")
    return {**{k: b[k] for k in keys}, "timestamps": _timestamps(config, wc),
            "stage_config": {"behavior": _keys(b, keys)}}


def _behavior_fig1b(config, wc):
    fig1b = config["behavior"]["fig1b"]
    return {"regions": config["regions"], "fig1b": fig1b, "seed": config["seed"],
            "stage_config": {"seed": config["seed"], "regions": config["regions"],
                             "behavior": {"fig1b": fig1b}}}


def _behavior_pose(config, wc):
    b, s = config["behavior"], config["sessions"][wc.session]
    return {"mode": b["pose"]["mode"], "pcutoff": b["pose"]["pcutoff"], "video_fps": b["video_fps"],
            "fps_tolerance": b["fps_tolerance"], "frame_rate": s.get("video_frame_rate"),
            "video_timestamps": s.get("video_timestamps")}


def _dlc_infer(config, wc):
    pose = config["behavior"]["pose"]
    return {"python": pose["dlc_python"] or "python", "device": config["device"],
            "gpu_fallback": config["gpu_fallback"], "batch_size": pose["batch_size"]}


def _assemble(config, wc):
    from benediff.behavior.sessions import dataset_sources  # no images without a video

    size = config["behavior"]["clips"]["size"]
    # dataset.neural_noise enters the slice only when set (> 0): a finished run whose config
    # never set it keeps its params, so upgrading does not re-assemble and refit it
    dataset = {k: v for k, v in config["dataset"].items() if k != "neural_noise" or v}
    return {"sources": dataset_sources(config, wc.session), "image_size": size,
            "config": {"seed": config["seed"], "dataset": dataset,
                       "split": config["split"], "behavior": {"clips": {"size": size}},
                       "sessions": {wc.session: config["sessions"][wc.session]}}}


def _import_behavenet(config, wc):
    s = config["sessions"][wc.session]
    return {"session_config": s, "behaviors": config["behaviors"], "regions": config["regions"],
            "split": config["split"],
            "config": {"seed": config["seed"], "split": config["split"], "regions": config["regions"],
                       "behaviors": config["behaviors"], "sessions": {wc.session: s}}}


def _simulate(config, wc):
    from benediff.simulate.params import params_from_config
    return {"sim": params_from_config(wc.session, config).to_dict()}


def _results_ledger(config, wc):
    from benediff.lvm import targets as lvm_targets
    from benediff.video import targets as video_targets
    r = config["report"]
    expected = (["results/tables/fig1b.csv", "results/figures/fig1b.pdf"]
                if "behavior" in r["stages"] else [])
    expected += lvm_targets.all_outputs(config) if "lvm" in r["stages"] else []
    expected += video_targets.final_outputs() if "video" in r["stages"] else []
    fig6 = config["video"]["figures"]["fig6"]
    return {"title": r["title"], "note": r["note"],
            "control": config["simulate"]["behavior_coupling"] == "independent",
            "causes": r["causes"], "include_titles": [e["title"] for e in r["include"]],
            "expected": expected, "figure6": [fig6["region"], fig6["factor"]]}


def _nwb_export(config, wc):
    from benediff.io import nwb_targets as nwb_io  # not io.nwb: no pynwb for the slices

    session, w = config["sessions"][wc.session], config["widefield"]
    return {"metadata": nwb_io.session_metadata(config["nwb"], wc.session),
            "fits": nwb_io.export_fits(config, wc.session),
            "timestamps": {"video": session.get("video_timestamps"),
                           "neural": session.get("neural_timestamps")},
            "frame_rate": w["frame_rate"], "atlas_transform": w["atlas"]["transform"],
            "grouping": w["grouping"], "channels": w["channels"],
            "nwb_series": session.get("nwb_series")}


RULE_SLICES = {
    "resolved_config": lambda config, wc: {"config": config},
    "simulate_session": _simulate,
    "widefield_motion": _widefield("widefield_motion", ("fmt",)),
    "widefield_atlas": _widefield("widefield_atlas", ("fmt",)),
    "widefield_landmarks": _widefield("widefield_landmarks", ("fmt",)),
    "widefield_svd": _widefield("widefield_svd", ("fmt", "device")),
    "widefield_hemo": _widefield("widefield_hemo", ("device",)),
    "widefield_locanmf": _widefield("widefield_locanmf", ("device", "seed")),
    "widefield_neural": lambda config, wc: _widefield("widefield_neural")(config, wc) | {
        "config": _widefield_provenance(config, wc), "regions": list(config["regions"])},
    "widefield_qc": lambda config, wc: {"cfg": config["widefield"],
                                        "config": _widefield_provenance(config, wc)},
    "session_trials": lambda config, wc: {
        "rate": config["widefield"]["frame_rate"], "channels": config["widefield"]["channels"],
        "nwb_series": config["sessions"][wc.session].get("nwb_series")},
    "split_trials": lambda config, wc: {"blocks": config["split"]["blocks"],
                                        "seed": config["split"]["seed"]},
    "assemble_dataset": _assemble,
    "import_behavenet": _import_behavenet,
    "dlc_infer": _dlc_infer,
    "specificity_pose": _dlc_infer,
    "behavior_pose": _behavior_pose,
    "behavior_labels": _behavior_labels,
    "behavior_clips": _behavior_clips,
    "behavior_fig1b": _behavior_fig1b,
    "nwb_pose": lambda config, wc: {"name": config["sessions"][wc.session].get("nwb_pose")},
    "nwb_neural_times": lambda config, wc: {
        "channels": config["widefield"]["channels"],
        "nwb_series": config["sessions"][wc.session].get("nwb_series")},
    "lvm_fit": _lvm("fit_rule_config"),
    "lvm_fit_seeds": _lvm("fit_seeds_rule_config"),
    "lvm_evaluate": _lvm("evaluate_rule_config"),
    "lvm_table": _lvm("table_rule_config"),
    "lvm_fig4": _lvm("fig4_rule_config"),
    "lvm_fig5": _lvm("fig5_rule_config"),
    "lvm_trajectories": _lvm("trajectories_rule_config"),
    "train_video_ae": _video("ae_rule_config"),
    "encode_frame_latents": lambda config, wc: {"device": config["device"],
                                                "gpu_fallback": config["gpu_fallback"]},
    "train_vdm": _video("vdm_rule_config"),
    "fit_linear_encoder": lambda config, wc: {"cfg": config["video"]["encoder"]},
    "train_cfg_vdm": _video("cfg_rule_config"),
    "train_naive_decoder": _video("naive_rule_config"),
    "generate": _video("generate_rule_config"),
    "generate_factors": _video("generate_group_rule_config"),
    "generate_unguided": _video("unguided_rule_config"),
    "specificity_canvas": _video("canvas_rule_config"),
    "specificity": _video("specificity_rule_config"),
    "video_figure": _video("figure_rule_config"),
    "results_ledger": _results_ledger,
    "nwb_export": _nwb_export,
}

# the config keys each slice may read (dotted prefixes; {session}, {region}, {model} from the
# wildcards). Sessions, regions and behaviours are read by most rules to resolve names.
_NAMES = ("sessions", "regions", "behaviors")
_LVM_FIT = ("lvm.n_unsupervised", "lvm.hidden", "lvm.layers", "lvm.dropout", "lvm.beta",
            "lvm.tc_estimator", "lvm.tc_max_samples", "lvm.x_weight", "lvm.behavior_weight",
            "lvm.kl_weight", "lvm.warmup_epochs", "lvm.max_epochs", "lvm.patience",
            "lvm.min_delta", "lvm.batch_size", "lvm.lr", "lvm.checkpoint_every",
            "lvm.checkpoint_root", "lvm.region_overrides.{region}", "lvm.baselines.{model}",
            "lvm.pool_sessions")
_LVM_ARTIFACTS = ("lvm.seeds", "lvm.pool_sessions", "lvm.table1", "lvm.table2", "lvm.table3",
                  "lvm.fig4") + _NAMES
_VIDEO_FIT = ("video.session", "video.lvm_session", "video.lvm_model", "video.lvm_seed")
RULE_KEYS = {
    "resolved_config": ("",),
    "simulate_session": ("simulate", _SESSION, "regions", "behaviors", "seed"),
    **{rule: tuple(f"widefield.{k}" for k in keys) + (_SESSION,) + _RUNTIME
       for rule, keys in WIDEFIELD_KEYS.items()},
    "widefield_neural": ("widefield", _SESSION, "regions", "seed"),
    "widefield_qc": ("widefield", _SESSION, "seed"),
    "session_trials": ("widefield.frame_rate", "widefield.channels", _SESSION),
    "split_trials": ("split",),
    "assemble_dataset": ("dataset", "split", "behavior.clips.size", _SESSION, "seed"),
    "nwb_export": ("nwb", _SESSION, "widefield.frame_rate", "widefield.atlas.transform",
                   "widefield.grouping", "widefield.channels") + _LVM_ARTIFACTS,
    "import_behavenet": (_SESSION, "split", "regions", "behaviors", "seed"),
    "dlc_infer": ("behavior.pose.dlc_python", "behavior.pose.batch_size", "device",
                  "gpu_fallback"),
    "specificity_pose": ("behavior.pose.dlc_python", "behavior.pose.batch_size", "device",
                         "gpu_fallback"),
    "behavior_pose": ("behavior.pose.mode", "behavior.pose.pcutoff", "behavior.video_fps",
                      "behavior.fps_tolerance", _SESSION),
    "behavior_labels": ("behaviors", "behavior.labels", "behavior.neural_rate", _SESSION),
    "behavior_clips": ("behavior.clips", "behavior.neural_rate", "behavior.video_fps",
                       "behavior.fps_tolerance", _SESSION),
    "behavior_fig1b": ("regions", "behavior.fig1b", "seed"),
    "nwb_pose": (_SESSION,),
    "nwb_neural_times": ("widefield.channels", _SESSION),
    "lvm_fit": _LVM_FIT + _RUNTIME + _NAMES,
    "lvm_fit_seeds": _LVM_FIT + ("lvm.seeds",) + _RUNTIME + _NAMES,
    "lvm_evaluate": ("lvm.mig_binning", "device", "gpu_fallback") + _LVM_ARTIFACTS,
    "lvm_table": ("lvm.seeds", "lvm.pool_sessions", "lvm.table1", "lvm.table2", "lvm.table3",
                  "seed") + _NAMES,
    "lvm_fig4": ("lvm.fig4", "lvm.seeds", "lvm.pool_sessions", "seed") + _NAMES,
    "lvm_fig5": ("lvm.fig5", "lvm.pool_sessions", "seed") + _NAMES,
    "lvm_trajectories": ("lvm.trajectories", "lvm.pool_sessions", "seed") + _NAMES,
    "train_video_ae": ("video.autoencoder",) + _RUNTIME,
    "encode_frame_latents": ("device", "gpu_fallback"),
    "train_vdm": ("video.diffusion",) + _RUNTIME,
    "fit_linear_encoder": ("video.encoder",),
    "train_cfg_vdm": ("video.diffusion", "video.cfg") + _RUNTIME,
    "train_naive_decoder": ("video.naive",) + _RUNTIME,
    "generate": ("video.generation", "video.guidance", "video.cfg.weight", "video.specificity",
                 "behaviors") + _RUNTIME,
    "generate_factors": ("video.generation", "video.guidance", "video.cfg.weight",
                         "video.specificity", "video.figures", "behaviors") + _RUNTIME,
    "generate_unguided": ("video.generation", "video.guidance.sampler", "video.guidance.steps",
                          "behaviors") + _RUNTIME,
    "specificity_canvas": ("video.specificity", "video.session", "behavior.clips.views",
                           "behavior.neural_rate", "seed",
                           "sessions", "behaviors", "regions"),
    "specificity": ("video.specificity", "video.session", "behavior.labels", "behavior.pose",
                    "dataset", "behaviors", "regions", "sessions", "seed"),
    "video_figure": ("video.figures", "video.session", "behaviors", "regions", "sessions",
                     "seed"),
    "results_ledger": ("report", "simulate.behavior_coupling", "video.figures.fig6", "lvm",
                       "video", "sessions", "regions", "behaviors"),
}


def rule_config(config: dict, rule: str, wildcards=None) -> dict:
    """The config one rule uses, as its params (name -> value); see ``RULE_SLICES``."""
    if rule not in RULE_SLICES:
        raise KeyError(f"rule {rule!r} has no config slice in benediff.config.RULE_SLICES")
    return RULE_SLICES[rule](config, wildcards)


def rule_keys(rule: str, wildcards=None) -> tuple[str, ...]:
    """Dotted config keys (prefixes) the slice of ``rule`` may read, wildcards filled in."""
    names = {k: getattr(wildcards, k) for k in ("session", "region", "model")
             if wildcards is not None and hasattr(wildcards, k)}
    return tuple(k.format(**names) if "{" not in k or all(f"{{{n}}}" not in k or n in names
                                                         for n in ("session", "region", "model"))
                 else k for k in RULE_KEYS[rule])
