"""Atlas loaders (real shipped files), rasteriser, grouping, landmark alignment, masks."""

import json
import warnings

import numpy as np
import pytest

from benediff.io import atlas as atl
from benediff.io import regions
from benediff.widefield import masks
from benediff.widefield import registration as reg
from shared_data import SHARED_DATA

DATA = SHARED_DATA / "atlas"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="shared atlas data not available")


@needs_data
def test_rasteriser_reproduces_shipped_projection_with_signs():
    ref = DATA / "wfield_references"
    proj = np.load(ref / "dorsal_cortex_projection.npy")
    atlas = atl.load_atlas(ref, shape=proj.shape, resolution=0.01, bregma=(570, 540))
    inside = (proj > 0) | (atlas.labels != 0)
    assert np.mean(np.abs(atlas.labels)[inside] == proj[inside]) > 0.98
    assert (atlas.labels[:, :570] >= 0).all() and (atlas.labels[:, 571:] <= 0).all()
    assert atlas.names[1] == "MOB" and atlas.names[33] == "VISp"
    # VISp (33): the right hemisphere carries -33 in the mirrored place
    assert np.count_nonzero(atlas.labels == 33) == pytest.approx(np.count_nonzero(atlas.labels == -33), rel=0.02)


@needs_data
def test_wfield_default_canvas_and_file_path():
    atlas = atl.load_atlas(DATA / "wfield_references" / atl.WFIELD_LABELS)
    assert atlas.shape == (540, 640) and atlas.resolution == pytest.approx(0.0194)
    assert set(np.unique(atlas.labels)) == set(range(-33, 34))


@needs_data
def test_locanmf_atlas_mat():
    atlas = atl.load_atlas(DATA / "locanmf" / "atlas.mat")
    assert atlas.shape == (540, 540)
    assert len(np.unique(atlas.labels)) == 67
    assert atlas.names[150] == "VISp1" and atlas.names[36] == "SSp_bfd1" and atlas.names[92] == "VISC1"
    masks = regions.region_masks(atlas)
    assert {"VIS_L", "VIS_R", "SSp_L", "SSp_R", "MOs_L", "MOs_R", "VISC_L"} <= set(masks)
    assert masks["VIS_L"][atlas.labels == 150].all() and not masks["VIS_L"][atlas.labels == 92].any()


@needs_data
def test_mesoscopy_tiff_mirrors_right_hemisphere():
    atlas = atl.load_atlas(DATA / "mesoscopy_ccf_top" / "ccf_template_top_140x142.tiff")
    left = atlas.labels[:, :71]
    right = atlas.labels[:, 72:]
    assert (left >= 0).all() and (right <= 0).all()
    assert np.count_nonzero(left) == np.count_nonzero(right)
    assert atlas.names[1153] == "VISp" and atlas.bregma == (71.0, 60.0)


def test_npz_round_trip_and_resize(tmp_path):
    labels = np.zeros((10, 12), np.int32)
    labels[2:5, 1:5], labels[2:5, 7:11] = 3, -3
    atlas = atl.Atlas(labels, {3: "VISp"})
    atl.save_npz(tmp_path / "atlas.npz", atlas)
    back = atl.load_atlas(tmp_path / "atlas.npz")
    np.testing.assert_array_equal(back.labels, labels)
    assert back.names == {3: "VISp"}
    big = atl.load_atlas(tmp_path / "atlas.npz", shape=(20, 24))
    np.testing.assert_array_equal(big.labels[::2, ::2], labels)


@pytest.mark.parametrize("name, group", [
    ("SSp_bfd1", "SSp"), ("SSp-bfd", "SSp"), ("SSp_un1", "SSp"), ("SSs1", "SSs"),
    ("VISp1", "VIS"), ("VISa1", "VIS"), ("VISrl", "VIS"), ("VISC1", "VISC"), ("VISC", "VISC"),
    ("RSPagl1", "RSP"), ("RSPd", "RSP"), ("MOp1", "MOp"), ("MOs1", "MOs"), ("MOs", "MOs"),
    ("ACAd1", "ACAd"), ("FRP1", "FRP"), ("AUD", "AUD"), ("AUDpo1", "AUD"), ("MOB", "MOB"),
    ("TEa1", "TEa"), ("VISp1_L", "VIS"), ("", None),
])
def test_consolidate(name, group):
    assert regions.consolidate(name) == group


def test_region_masks_and_grouping_overrides():
    labels = np.array([[5, 5, 0, -5], [7, 0, -7, -9]], np.int32)
    atlas = atl.Atlas(labels, {5: "VISp1", 7: "VISam1", 9: "MOs1"})
    masks = regions.region_masks(atlas)
    assert list(masks) == ["MOs_R", "VIS_L", "VIS_R"]
    np.testing.assert_array_equal(masks["VIS_L"], [[1, 1, 0, 0], [1, 0, 0, 0]])
    grouping = regions.make_grouping({"VISam1": "VISam", "MOs1": None})
    masks = regions.region_masks(atlas, grouping)
    assert list(masks) == ["VIS_L", "VIS_R", "VISam_L", "VISam_R"]


def _landmarks(tform, kind="similarity"):
    src = {"OB_left": (20.0, 10.0), "OB_center": (32.0, 10.0), "OB_right": (44.0, 10.0),
           "RSP_base": (32.0, 50.0)}
    dst = {n: tuple(tform(np.array([p]))[0]) for n, p in src.items()}
    return {"landmarks_im": {"name": list(src), "x": [p[0] for p in src.values()],
                             "y": [p[1] for p in src.values()]},
            "landmarks_match": [{"name": n, "x": p[0], "y": p[1]} for n, p in dst.items()],
            "transform_type": kind, "resolution": 0.05, "bregma_offset": [32, 30]}


def test_landmark_round_trip_similarity_and_affine(tmp_path):
    from skimage.transform import AffineTransform, SimilarityTransform

    cases = [(SimilarityTransform(scale=1.1, rotation=0.1, translation=(3, -2)), "similarity"),
             (AffineTransform(scale=(1.1, 0.9), rotation=0.05, shear=0.05, translation=(2, 1)),
              "affine")]
    for truth, kind in cases:
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps(_landmarks(truth, kind)))
        tform = atl.fit_transform(path)
        assert reg.landmark_residuals(path, tform).max() < 0.5
        pts = np.array([[5.0, 7.0], [40.0, 33.0]])
        assert np.abs(tform.inverse(tform(pts)) - pts).max() < 0.5
        np.testing.assert_allclose(tform.params, truth.params, atol=1e-6)


def test_warp_atlas_into_session_frame():
    from skimage.transform import SimilarityTransform

    labels = np.zeros((60, 64), np.int32)
    labels[20:40, 10:30], labels[20:40, 34:54] = 4, -4
    atlas = atl.Atlas(labels, {4: "VISp"}, resolution=0.05, bregma=(32.0, 30.0))
    shift = SimilarityTransform(translation=(5, 3))
    warped = reg.align_atlas(atlas, _landmarks(shift), (60, 64))
    np.testing.assert_array_equal(warped.labels[23:43, 15:35], 4)
    np.testing.assert_array_equal(warped.labels[23:43, 39:59], -4)
    assert warped.bregma == pytest.approx((37.0, 33.0))
    assert warped.labels.dtype == np.int32


def test_landmarks_missing_points_raise(tmp_path):
    from skimage.transform import SimilarityTransform

    data = _landmarks(SimilarityTransform())
    data["landmarks_match"] = data["landmarks_match"][:2]
    with pytest.raises(atl.LandmarkError, match="only one of"):
        atl.fit_transform(data)
    del data["landmarks_match"]
    with pytest.raises(atl.LandmarkError, match="landmarks_match"):
        atl.fit_transform(data)
    data = _landmarks(SimilarityTransform())
    data["landmarks_match"][0]["x"] = None
    with pytest.raises(atl.LandmarkError, match="no valid x/y"):
        atl.fit_transform(data)
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(atl.AtlasError, match="invalid JSON"):
        atl.fit_transform(tmp_path / "empty.json")


def test_overlap_check_and_small_region_drop():
    labels = np.zeros((20, 20), np.int32)
    labels[:10, :10], labels[:10, 10:], labels[10:12, :2] = 1, -1, 2
    atlas = atl.Atlas(labels, {1: "VISp", 2: "MOs"})
    mask = np.zeros((20, 20), bool)
    mask[:12] = True
    final = masks.check_overlap(atlas, mask)
    assert final.sum() == 204
    with pytest.raises(atl.AtlasError, match="does not overlap|covers"):
        masks.check_overlap(atlas, np.roll(mask, 12, axis=0) & ~(labels != 0))
    with pytest.warns(UserWarning, match="MOs_L"):
        pruned, dropped = masks.drop_small_regions(atlas, final, min_pixels=10)
    assert dropped == [2] and not np.any(pruned.labels == 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert masks.drop_small_regions(atlas, final, min_pixels=3)[1] == []


def test_brain_mask_and_outline():
    labels = np.array([[0, 1, 1], [0, 1, -1]], np.int32)
    U = np.ones((2, 3, 2))
    U[0, 1] = np.nan
    np.testing.assert_array_equal(masks.brain_mask(atl.Atlas(labels, {1: "A"}), U),
                                  [[0, 0, 1], [0, 1, 1]])
    square = np.zeros((5, 5), np.int32)
    square[1:4, 1:4] = 1
    edge = regions.outline(square)
    assert edge[1, 1] and edge[0, 1] and not edge[2, 2] and not edge[4, 4]


def test_missing_atlas_file_raises(tmp_path):
    with pytest.raises(atl.AtlasError, match="does not exist"):
        atl.load_atlas(tmp_path / "nope.mat")
    (tmp_path / "atlas.xyz").write_text("x")
    with pytest.raises(atl.AtlasError, match="unknown format"):
        atl.load_atlas(tmp_path / "atlas.xyz")


def test_merge_regions_gives_one_code_per_group():
    labels = np.array([[5, 7, 0, -5], [9, 0, -7, -9]], np.int32)
    atlas = atl.Atlas(labels, {5: "VISp1", 7: "VISam1", 9: "ORBm1"})
    merged = regions.merge_regions(atlas)
    assert merged.names == {1: "ORBm", 2: "VIS"}
    np.testing.assert_array_equal(merged.labels, [[2, 2, 0, -2], [1, 0, -2, -1]])
    dropped = regions.merge_regions(atlas, regions.make_grouping({"ORBm1": None}))
    np.testing.assert_array_equal(dropped.labels, [[1, 1, 0, -1], [0, 0, -1, 0]])
    assert regions.region_masks(merged).keys() == regions.region_masks(atlas).keys()


def _disk_image(shape=(60, 80), centre=(30, 40), radius=22, inside=1000.0, outside=80.0):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    disk = np.hypot(yy - centre[0], xx - centre[1]) <= radius
    return disk, np.where(disk, inside, outside)


def test_image_brain_mask_bright_window_dark_surround():
    rng = np.random.default_rng(0)
    disk, img = _disk_image()
    img = img + rng.normal(0, 20, img.shape)
    img[30, :] = np.where(disk[30], 300, img[30, :])  # a dark vessel across the window
    img[:, 40] = np.where(disk[:, 40], 250, img[:, 40])  # and a dark midline sinus
    img[5, 5] = 60000  # a hot pixel / reflection outside
    mask, found = masks.image_brain_mask(img)
    assert found and (mask & disk).sum() / (mask | disk).sum() > 0.95
    # a window running off the frame edge is not eroded there
    edge_disk, edge_img = _disk_image(centre=(30, 70), radius=25)
    mask, found = masks.image_brain_mask(edge_img)
    assert found and mask[:, -1].sum() >= 0.9 * edge_disk[:, -1].sum()


def test_image_brain_mask_without_surround_is_the_whole_frame():
    rng = np.random.default_rng(1)
    for img in (np.full((30, 40), 500.0), 1000 + 100 * rng.random((30, 40))):
        mask, found = masks.image_brain_mask(img)
        assert not found and mask.all()


def test_alignment_overlap_and_regions_outside_the_brain():
    from skimage.transform import SimilarityTransform

    labels = np.zeros((20, 20), np.int32)
    labels[5:15, 2:10], labels[5:15, 10:18] = 1, -1
    atlas = atl.Atlas(labels, {1: "VISp"})
    brain = labels != 0
    same = SimilarityTransform()
    ov = reg.alignment_overlap(atlas, labels, same, brain)
    assert ov.overlap == ov.atlas_in_brain == ov.brain_covered == 1.0
    shift = SimilarityTransform(translation=(8, 0))  # right half warped out of the frame
    moved = reg.warp_atlas(atlas, shift, (20, 20))
    ov = reg.alignment_overlap(atlas, moved.labels, shift, brain)
    assert ov.atlas_in_brain == pytest.approx(0.5) and ov.brain_covered == pytest.approx(0.5)
    assert "overlap 0.50" in ov.describe()
    no_surround = reg.alignment_overlap(atlas, moved.labels, shift, np.ones((20, 20), bool), False)
    assert no_surround.overlap == pytest.approx(100 / 160)  # atlas area outside the frame counts
    fractions = reg.region_inside_fractions(atlas, moved, shift, brain)
    assert fractions == {-1: pytest.approx(0.0), 1: pytest.approx(1.0)}
    with pytest.warns(UserWarning, match=r"VISp_R \(0%\)"):
        kept, dropped = reg.drop_regions_outside(moved, fractions, 0.5)
    assert dropped == [-1] and not np.any(kept.labels == -1)


def test_npz_keeps_resolution_and_bregma(tmp_path):
    atlas = atl.Atlas(np.ones((4, 6), np.int32), {1: "A"}, 0.05, (3.0, 2.0))
    atl.save_npz(tmp_path / "a.npz", atlas)
    back = atl.load_atlas(tmp_path / "a.npz")
    assert back.resolution == 0.05 and back.bregma == (3.0, 2.0)
