"""The reader of a session's NWB file (:func:`read_export`, pynwb): the arrays the export wrote
(contents and times: :mod:`benediff.io.nwb`).
"""

from pathlib import Path

import numpy as np

from benediff.io.nwb_session import NwbExportError


def read_export(path) -> dict:
    """The arrays of an exported file: trials (DataFrame), temporal (components, T),
    footprints, regions, labels {name: (N,)}, pose {part: (n, 3)}, latents {name: (N, d)},
    metrics (DataFrame), neural_times, label_times, pose_times."""
    import ndx_pose  # noqa: F401  (registers the extension's types)
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.exists():
        raise NwbExportError(f"{path}: no such NWB file")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        out = {"trials": nwb.trials.to_dataframe(), "session_id": nwb.session_id}
        ophys = nwb.processing["ophys"]
        rois = ophys["ImageSegmentation"]["LocaNMF"]
        series = ophys["DfOverF"]["LocaNMF"]
        out["temporal"] = series.data[()].T
        out["neural_times"] = series.get_timestamps()[()] if series.timestamps is not None \
            else series.starting_time + np.arange(series.data.shape[0]) / series.rate
        out["footprints"] = np.stack([np.asarray(m) for m in rois["image_mask"][:]])
        out["regions"] = list(rois["region"][:])
        out["atlas_labels"] = ophys["atlas"]["labels"].data[()] if "atlas" in \
            ophys.data_interfaces else None
        behavior = nwb.processing["behavior"]
        labels = behavior["labels"]
        out["labels"] = {name: ts.data[()] for name, ts in labels.time_series.items()}
        first = next(iter(labels.time_series.values()))
        out["label_times"] = first.timestamps[()]
        pose = behavior["PoseEstimation"]
        out["pose"] = {name: np.column_stack([p.data[()], p.confidence[()]])
                       for name, p in pose.pose_estimation_series.items()}
        one = next(iter(pose.pose_estimation_series.values()))
        out["pose_times"] = np.asarray(one.get_timestamps()[()]) if one.timestamps is not None \
            else one.starting_time + np.arange(one.data.shape[0]) / one.rate
        module = nwb.processing["benediff"] if "benediff" in nwb.processing else None
        out["latents"], out["metrics"] = {}, None
        if module is not None:
            for name, obj in module.data_interfaces.items():
                if name == "metrics":
                    out["metrics"] = obj.to_dataframe()
                else:
                    out["latents"][name] = obj.data[()]
    return out
