"""DeepLabCut pose files: read, validate, write (pandas + PyTables only, no DeepLabCut needed).

The layout (docs/BEHAVIOR.md §4): one HDF5 key ``/df_with_missing`` written with ``format="table"``;
columns ``MultiIndex(scorer, bodyparts, coords)`` with coords x, y, likelihood; int64 frame index
0..n-1; float32 values. CSV: three header rows (scorer, bodyparts, coords), one row per frame.

Hand-label files (``CollectedData_<scorer>``) have only x/y and an image-path index; they are
read as pose tables with likelihood 1 where a point was labelled and 0 where it is missing.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import tables

from benediff.io.atomic import atomic_output

H5_KEY = "df_with_missing"
LEVELS = ["scorer", "bodyparts", "coords"]
COORDS = ["x", "y", "likelihood"]


class PoseError(ValueError):
    """A pose file is malformed or does not fit the session; the message names file and fix."""


def make_pose_frame(scorer: str, bodyparts, values) -> pd.DataFrame:
    """DLC-layout DataFrame from an array ``values`` of shape (n_frames, n_bodyparts, 3)."""
    values = np.asarray(values, dtype=np.float32)
    bodyparts = list(bodyparts)
    if values.ndim != 3 or values.shape[1:] != (len(bodyparts), 3):
        raise PoseError(f"pose values must have shape (n_frames, {len(bodyparts)}, 3), "
                        f"got {values.shape}")
    columns = pd.MultiIndex.from_product([[scorer], bodyparts, COORDS], names=LEVELS)
    index = pd.RangeIndex(len(values)).astype(np.int64)
    return pd.DataFrame(values.reshape(len(values), -1), index=index, columns=columns)


def read_pose(path) -> pd.DataFrame:
    """Read a DLC .h5 or .csv (predictions or hand labels) and return it validated."""
    return validate_pose(_normalise(_read_table(path), Path(path)), Path(path))


def read_bodyparts(path) -> list[str]:
    """Body parts of a DLC .h5/.csv from its header only (first row), for checks at parse time."""
    df = _read_table(path, first_row_only=True)
    if not isinstance(df.columns, pd.MultiIndex) or df.columns.nlevels != 3:
        raise PoseError(f"{path}: columns must have the 3 levels {LEVELS}")
    return list(dict.fromkeys(df.columns.get_level_values(1)))


def _read_table(path, first_row_only=False) -> pd.DataFrame:
    """The raw DLC table of a .h5 or .csv; every failure is one PoseError naming the file."""
    path = Path(path)
    if not path.exists():
        raise PoseError(f"{path}: pose file does not exist; check the configured pose path")
    rows = {"nrows": 1} if first_row_only else {}
    try:
        if path.suffix == ".csv":
            _check_single_animal_csv(path)
            return pd.read_csv(path, header=[0, 1, 2], index_col=0, **rows)
        if path.suffix == ".h5":
            if not first_row_only:
                return _single_animal(pd.read_hdf(path), path)
            try:
                return _single_animal(pd.read_hdf(path, start=0, stop=1), path)
            except (TypeError, NotImplementedError):  # fixed-format store: no partial reads
                return _single_animal(pd.read_hdf(path), path)
        raise PoseError(f"{path}: unsupported pose file type {path.suffix!r}; "
                        "give a DeepLabCut .h5 or .csv")
    except PoseError:
        raise
    except (OSError, ValueError, KeyError, TypeError, tables.HDF5ExtError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "HDF5 error back trace" in str(exc) or not first:
            first = "not an HDF5 file" if path.suffix == ".h5" else type(exc).__name__
        raise PoseError(f"{path}: cannot read as a DeepLabCut pose file ({first}); "
                        "expected key /df_with_missing or a 3-row CSV header") from exc


def _multi_animal_error(path, individuals) -> PoseError:
    first = individuals[0] if individuals else "<individual>"
    return PoseError(
        f"{path}: a multi-animal DeepLabCut file (header levels scorer, individuals, bodyparts, "
        f"coords; individuals {list(individuals)}); benediff reads one animal: export one "
        "individual, e.g. in Python `df = pd.read_hdf(<file>)` (or `pd.read_csv(<file>, "
        f"header=[0, 1, 2, 3], index_col=0)`), then `df.xs({first!r}, level='individuals', "
        "axis=1).to_hdf('pose_one.h5', key='df_with_missing', format='table')`, and point the "
        "pose path at that file")


def _check_single_animal_csv(path) -> None:
    """maDLC CSVs have 4 header rows, the second named ``individuals``."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        fh.readline()
        second = fh.readline().rstrip("\r\n").split(",")
    if second and second[0].strip().lower() == "individuals":
        raise _multi_animal_error(path, list(dict.fromkeys(c for c in second[1:] if c)))


def _single_animal(df: pd.DataFrame, path) -> pd.DataFrame:
    cols = df.columns
    if isinstance(cols, pd.MultiIndex) and "individuals" in (cols.names or []):
        raise _multi_animal_error(path, list(dict.fromkeys(cols.get_level_values("individuals"))))
    return df


def write_pose(df: pd.DataFrame, path) -> None:
    """Write ``df`` atomically in DLC layout; the format follows the suffix (.h5 or .csv)."""
    path = Path(path)
    validate_pose(df, path)
    with atomic_output(path) as tmp:
        if path.suffix == ".h5":
            df.to_hdf(tmp, key=H5_KEY, format="table", mode="w")
        elif path.suffix == ".csv":
            df.to_csv(tmp)
        else:
            raise PoseError(f"{path}: pose output must end in .h5 or .csv")


def validate_pose(df: pd.DataFrame, source="pose table") -> pd.DataFrame:
    """Check single-animal DLC layout with x/y/likelihood for every body part; return ``df``."""
    cols = df.columns
    if not isinstance(cols, pd.MultiIndex) or cols.nlevels != 3:
        levels = list(cols.names) if isinstance(cols, pd.MultiIndex) else [cols.name]
        hint = (" (multi-animal file: export a single individual)" if "individuals" in levels
                else "")
        raise PoseError(f"{source}: columns must have the 3 levels {LEVELS}, got {levels}{hint}")
    if list(cols.names) != LEVELS:
        raise PoseError(f"{source}: column levels are {list(cols.names)}, expected {LEVELS}")
    scorers = cols.get_level_values("scorer").unique()
    if len(scorers) != 1:
        raise PoseError(f"{source}: expected one scorer, found {list(scorers)}")
    for bp in bodyparts(df):
        have = list(df[scorers[0]][bp].columns)
        if have != COORDS:
            raise PoseError(f"{source}: body part {bp!r} has coords {have}, expected {COORDS}")
    if len(df) == 0:
        raise PoseError(f"{source}: pose table has no frames")
    return df


def bodyparts(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df.columns.get_level_values("bodyparts")))


def scorer(df: pd.DataFrame) -> str:
    return str(df.columns.get_level_values("scorer")[0])


def pose_array(df: pd.DataFrame, bodypart: str, source="pose table") -> np.ndarray:
    """(n_frames, 3) array x, y, likelihood of one body part; fail listing available ones."""
    available = bodyparts(df)
    if bodypart not in available:
        raise PoseError(f"{source}: body part {bodypart!r} is not in the pose file; "
                        f"available body parts: {available}; fix behavior.labels.mapping")
    return df[scorer(df)][bodypart][COORDS].to_numpy(dtype=np.float64)


def check_model_dir(model_dir) -> tuple[Path, Path]:
    """``(pytorch_config.yaml, snapshot)`` of a DLC model folder; the best/last snapshot wins."""
    model_dir = Path(model_dir) if model_dir else None
    if model_dir is None or not model_dir.is_dir():
        raise PoseError(f"config key behavior.pose.model_dir = {str(model_dir)!r} is not a "
                        "directory; point it at a folder with pytorch_config.yaml and "
                        "snapshot-*.pt")
    config = model_dir / "pytorch_config.yaml"
    if not config.exists():
        raise PoseError(f"{model_dir}: no pytorch_config.yaml; copy it from the DLC project's "
                        "dlc-models-pytorch/.../train folder")
    snapshots = sorted(model_dir.glob("snapshot-*.pt"), key=_snapshot_number)
    if not snapshots:
        raise PoseError(f"{model_dir}: no snapshot-*.pt in the DLC model folder; copy the trained "
                        "snapshot next to pytorch_config.yaml")
    best = [p for p in snapshots if "best" in p.stem]
    return config, (best or snapshots)[-1]


def _snapshot_number(path: Path) -> tuple:
    digits = "".join(c if c.isdigit() else " " for c in path.stem).split()
    return (int(digits[-1]) if digits else -1, path.name)


def labels_index_to_dlc(index: pd.Index, stem: str) -> pd.MultiIndex:
    """Image-path index (``labeled-data/img01.png``) → DLC's ``(labeled-data, stem, img)``."""
    tuples = []
    for item in index:
        parts = str(item).replace("\\", "/").split("/")
        if len(parts) == 2:
            parts = [parts[0], stem, parts[1]]
        if len(parts) != 3:
            raise PoseError(f"label index entry {item!r} is not labeled-data/<stem>/<image>")
        tuples.append(tuple(parts))
    return pd.MultiIndex.from_tuples(tuples)


def _normalise(df: pd.DataFrame, path) -> pd.DataFrame:
    """Bring predictions or hand labels to the canonical prediction layout."""
    if isinstance(df.columns, pd.MultiIndex) and df.columns.nlevels == 3:
        df.columns = df.columns.set_names(LEVELS)
        coords = set(df.columns.get_level_values("coords"))
        if coords == {"x", "y"}:
            df = _labels_to_predictions(df)
    if not isinstance(df.index, pd.RangeIndex) and not pd.api.types.is_integer_dtype(df.index):
        df = df.reset_index(drop=True)  # image-path index of hand labels: rows become frames
    df.index = pd.Index(np.arange(len(df), dtype=np.int64))
    return df.astype(np.float32)


def _labels_to_predictions(df: pd.DataFrame) -> pd.DataFrame:
    """Hand labels (x, y) → predictions (x, y, likelihood); likelihood 1 where labelled."""
    name = scorer(df)
    parts = bodyparts(df)
    values = np.empty((len(df), len(parts), 3), dtype=np.float32)
    for i, bp in enumerate(parts):
        xy = df[name][bp][["x", "y"]].to_numpy(dtype=np.float32)
        values[:, i, :2] = xy
        values[:, i, 2] = np.isfinite(xy).all(axis=1)
    return make_pose_frame(name, parts, values)
