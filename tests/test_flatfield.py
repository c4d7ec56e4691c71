"""Flat-field: tile layout, the three scenarios, profiles files, correction, bad input."""

from __future__ import annotations

import json
import sys

import dask.array as da
import numpy as np
import pytest

from detcal.flatfield import (
    Profiles,
    apply_flatfield,
    check_channel,
    empty_data_flat,
    estimate_flatfield,
    load_profiles,
    save_profiles,
)
from detcal.flatfield import basic as basic_fit
from detcal.flatfield import tiles as tile_layout
from detcal.sample_data.mosaic import flat_nrms, make_mosaic


@pytest.fixture(scope="module")
def mosaic():
    return make_mosaic(n_z=16, empty_z=(3, 12), tile_shape=(96, 96), seed=1)


@pytest.fixture(scope="module")
def small_mosaic():
    return make_mosaic(n_z=6, empty_z=(1, 4), tile_shape=(48, 48), seed=2)


# --------------------------------------------------------------------------- tile layout


def test_inverted_n_numbering():
    grid = (3, 4)
    assert tile_layout.tile_position(1, grid) == (0, 0)
    assert tile_layout.tile_position(2, grid) == (1, 0)  # down the first column
    assert tile_layout.tile_position(4, grid) == (0, 1)  # then the top of the next one
    assert tile_layout.tile_position(12, grid) == (2, 3)
    for number in range(1, 13):
        assert tile_layout.tile_number(*tile_layout.tile_position(number, grid), grid) == number
    assert tile_layout.corner_tiles(grid) == (1, 3, 10, 12)
    assert tile_layout.corner_tiles((1, 3)) == (1, 3)
    assert tile_layout.infer_grid_shape(9) == (3, 3)
    with pytest.raises(ValueError, match="grid_shape"):
        tile_layout.infer_grid_shape(6)
    with pytest.raises(ValueError, match="fov_list.*outside"):
        tile_layout.check_fov_list([1, 13], grid)


# --------------------------------------------------------------------------- scenario 2


@pytest.mark.parametrize(
    "selection",
    [{"z_levels": (3, 12)}, {"fov_list": (1, 3, 7, 9)}, {"fov_list": (1, 9), "z_levels": (3, 12)}],
)
def test_empty_data_flat_recovers_the_known_flat(mosaic, selection):
    profiles, scenario = estimate_flatfield(mosaic.tiles, dark=mosaic.dark, **selection)
    assert scenario == "empty"
    assert profiles.flatfield.mean() == pytest.approx(1.0, abs=1e-5)
    assert flat_nrms(profiles.flatfield, mosaic.flatfield) <= 0.01
    np.testing.assert_allclose(profiles.darkfield, mosaic.dark)
    # only planes of the chosen tiles and z-levels were used
    tiles = set(selection.get("fov_list", mosaic.empty_tiles))
    for tile, z in profiles.info["planes"]:
        assert tile in tiles
        if "z_levels" in selection:
            assert z < 3 or z > 12


def test_forgetting_the_dark_costs_more(mosaic):
    right, _ = estimate_flatfield(mosaic.tiles, dark=mosaic.dark_level, z_levels=(3, 12))
    forgot, _ = estimate_flatfield(mosaic.tiles, z_levels=(3, 12))
    err_right = flat_nrms(right.flatfield, mosaic.flatfield)
    err_forgot = flat_nrms(forgot.flatfield, mosaic.flatfield)
    assert err_right <= 0.01
    assert err_forgot > 3 * err_right
    assert err_forgot > 0.01


def test_contaminated_planes_are_rejected_and_do_not_bias():
    sample = make_mosaic(n_z=16, empty_z=(3, 12), tile_shape=(96, 96), n_contaminated=5, seed=3)
    profiles, _ = estimate_flatfield(sample.tiles, dark=sample.dark, z_levels=(3, 12))
    bad = {(int(t) + 1, int(z)) for t, z in np.argwhere(sample.contaminated)}
    assert set(profiles.info["rejected"]) == bad
    assert flat_nrms(profiles.flatfield, sample.flatfield) <= 0.01
    # a plain mean over the same planes is visibly biased by them
    picked = np.array([sample.tiles[t - 1, z] for t, z in profiles.info["planes"]], np.float32)
    mean_flat = (picked - sample.dark).mean(axis=0)
    assert flat_nrms(mean_flat, sample.flatfield) > 3 * flat_nrms(
        profiles.flatfield, sample.flatfield
    )
    # the per-plane rejection matters on its own: without it the flat is worse
    planes = np.stack([sample.tiles[t - 1, z] for t, z in profiles.info["planes"]])
    no_reject, kept = empty_data_flat(planes, dark=sample.dark, reject=np.inf)
    assert kept.all()
    assert flat_nrms(no_reject, sample.flatfield) > flat_nrms(profiles.flatfield, sample.flatfield)


def test_single_field_z_levels_and_subset(mosaic):
    field = mosaic.tiles[0]  # a (z, row, col) stack; corner tile, all empty
    profiles, scenario = estimate_flatfield(field, dark=mosaic.dark, z_levels=(5, 10), n_samples=6)
    assert scenario == "empty"
    assert len(profiles.info["planes"]) == 6
    assert flat_nrms(profiles.flatfield, mosaic.flatfield) <= 0.015
    again, _ = estimate_flatfield(field, dark=mosaic.dark, z_levels=(5, 10), n_samples=6)
    assert again.info["planes"] == profiles.info["planes"]


class _CountingArray:
    """Array-like that records which (tile, z) planes dask reads."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, 4
        self.reads = []

    def __getitem__(self, index):
        out = self.array[index]
        first = [i.start if isinstance(i, slice) else int(i) for i in index[:2]]
        self.reads.append(tuple(first))
        return out


def test_dask_input_reads_only_the_sampled_planes(mosaic):
    source = _CountingArray(mosaic.tiles)
    lazy = da.from_array(source, chunks=(1, 1, 96, 96))
    profiles, _ = estimate_flatfield(lazy, dark=mosaic.dark, z_levels=(3, 12), n_samples=10)
    expected = {(t - 1, z) for t, z in profiles.info["planes"]}
    assert len(expected) == 10
    assert set(source.reads) == expected
    eager, _ = estimate_flatfield(mosaic.tiles, dark=mosaic.dark, z_levels=(3, 12), n_samples=10)
    np.testing.assert_array_equal(profiles.flatfield, eager.flatfield)


def test_corrected_tiles_match_the_truth(mosaic):
    profiles, _ = estimate_flatfield(mosaic.tiles, dark=mosaic.dark, fov_list=(1, 3, 7, 9))
    corrected = apply_flatfield(mosaic.tiles, profiles)
    truth = mosaic.truth
    keep = ~mosaic.contaminated
    # averaged over planes the noise drops out: corrected / truth is flat to within 1 %
    ratio = corrected[keep].mean(axis=0) / truth[keep].mean(axis=0)
    assert np.std(ratio) / np.mean(ratio) < 0.01
    raw = (mosaic.tiles[keep].astype(np.float32) - mosaic.dark).mean(axis=0)
    assert np.std(raw / truth[keep].mean(axis=0)) > 0.1  # vignetting before correction


# --------------------------------------------------------------------------- scenario 1


def test_measured_profiles_models_folder_and_channels(tmp_path, small_mosaic):
    flat = small_mosaic.flatfield
    save_profiles(Profiles(flat, small_mosaic.dark), tmp_path / "models" / "GFP")
    profiles, scenario = estimate_flatfield(
        small_mosaic.tiles, models_folder=tmp_path / "models", channel="GFP"
    )
    assert scenario == "measured"
    np.testing.assert_allclose(profiles.flatfield, flat)
    np.testing.assert_allclose(profiles.darkfield, small_mosaic.dark)
    # the profiles.npz path directly, and an explicit dark replacing the stored one
    direct, _ = estimate_flatfield(
        small_mosaic.tiles, dark=7.0, models_folder=tmp_path / "models" / "GFP" / "profiles.npz"
    )
    assert np.all(direct.darkfield == 7.0)
    for bad in ("../GFP", "/etc", "GFP/../../x", ""):
        with pytest.raises(ValueError, match="channel"):
            load_profiles(tmp_path / "models", channel=bad)
    assert check_channel(tmp_path, "a/b") == (tmp_path / "a" / "b").resolve()
    with pytest.raises(FileNotFoundError, match="GFP"):
        load_profiles(tmp_path / "models")  # lists the channels found
    with pytest.raises(ValueError, match="shape"):
        estimate_flatfield(small_mosaic.tiles[:, :, :40], models_folder=tmp_path / "models/GFP")


def test_profiles_files_bad_content(tmp_path):
    np.savez(tmp_path / "noflat.npz", darkfield=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="flatfield"):
        load_profiles(tmp_path / "noflat.npz")
    np.savez(tmp_path / "obj.npz", flatfield=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="objects"):
        load_profiles(tmp_path / "obj.npz")
    flat = np.ones((4, 4))
    flat[1, 1] = 0
    np.savez(tmp_path / "zero.npz", flatfield=flat)
    with pytest.raises(ValueError, match="zero"):
        load_profiles(tmp_path / "zero.npz")
    flat[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Profiles(flat)
    with pytest.raises(FileNotFoundError):
        load_profiles(tmp_path / "missing.npz")
    saved = save_profiles(Profiles(np.ones((4, 4))), tmp_path / "m")
    with pytest.raises(FileExistsError):
        save_profiles(Profiles(np.ones((4, 4))), tmp_path / "m")
    assert save_profiles(Profiles(np.ones((4, 4))), tmp_path / "m", overwrite=True) == saved
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["profiles.npz", "settings.json"]


def test_round_trip_through_basicpy(tmp_path, small_mosaic):
    from basicpy import BaSiC
    from pydantic import ValidationError

    # ours -> basicpy
    ours = Profiles(small_mosaic.flatfield, small_mosaic.dark, np.asarray(3.0))
    save_profiles(ours, tmp_path / "ours")
    model = BaSiC.load_model(tmp_path / "ours")
    np.testing.assert_allclose(model.flatfield, ours.flatfield, rtol=1e-6)
    np.testing.assert_allclose(model.darkfield, ours.darkfield, rtol=1e-6)
    images = small_mosaic.tiles[4, :3].astype(np.float32)
    np.testing.assert_allclose(
        model.transform(images, use_tqdm=False),
        apply_flatfield(images, Profiles(ours.flatfield, ours.darkfield)),
        rtol=1e-5,
    )
    # the trap: basicpy's own unfitted settings do not load back, ours do
    BaSiC().save_model(tmp_path / "raw")
    with pytest.raises(ValidationError, match="smoothness"):
        BaSiC.load_model(tmp_path / "raw")
    settings = json.loads((tmp_path / "ours" / "settings.json").read_text())
    assert isinstance(settings["smoothness_flatfield"], float)
    # basicpy -> ours, after a real fit
    fitted = BaSiC(working_size=16, max_reweight_iterations=2)
    fitted.fit(small_mosaic.tiles[4].astype(np.float32))
    fitted.save_model(tmp_path / "theirs")
    loaded = load_profiles(tmp_path / "theirs")
    np.testing.assert_allclose(loaded.flatfield, fitted.flatfield, rtol=1e-6)
    assert loaded.darkfield is None  # basicpy wrote zeros: no darkfield
    assert loaded.baseline.shape == (6,)  # one per fitted plane, not applied
    assert loaded.scalar_baseline() is None


# --------------------------------------------------------------------------- scenario 3


def _direct_basic(planes, **settings):
    from basicpy import BaSiC

    basic = BaSiC(**settings)
    basic.fit(planes.astype(np.float32))
    return basic


def test_basic_equals_basicpy_on_the_same_planes(small_mosaic):
    params = {"working_size": 24, "smoothness_flatfield": 0.5}
    profiles, scenario = estimate_flatfield(
        small_mosaic.tiles, dark=small_mosaic.dark, basic_params=params, n_samples=12, seed=4
    )
    assert scenario == "basic"
    chosen = basic_fit.choose_planes(9 * 6, 12, seed=4)
    planes = small_mosaic.tiles.reshape(-1, 48, 48)[chosen].astype(np.float32) - small_mosaic.dark
    direct = _direct_basic(planes, **params)
    np.testing.assert_allclose(profiles.flatfield, direct.flatfield, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(profiles.baseline, direct.baseline, rtol=1e-5)
    np.testing.assert_allclose(profiles.darkfield, small_mosaic.dark)
    assert [(t - 1) * 6 + z for t, z in profiles.info["planes"]] == chosen.tolist()
    assert profiles.settings["smoothness_flatfield"] == 0.5
    assert flat_nrms(profiles.flatfield, small_mosaic.flatfield) < 0.05


def test_basic_equals_basicpy_on_real_wsi_brain(real_data, tmp_path):
    from basicpy import BaSiC

    images = np.load(real_data / "wsi_brain.npz", allow_pickle=False)["images"]
    params = {"working_size": 32, "max_workers": 1}
    profiles, _ = estimate_flatfield(images, basic_params=params, n_samples=16, seed=0)
    chosen = basic_fit.choose_planes(len(images), 16, seed=0)
    direct = _direct_basic(images[chosen], working_size=32)
    np.testing.assert_allclose(profiles.flatfield, direct.flatfield, rtol=1e-5, atol=1e-6)
    # the vignetting of the real tiles is found: corners darker than the centre
    flat = profiles.flatfield
    assert flat[:8, :8].mean() < flat[56:72, 56:72].mean()
    # and the saved model loads in basicpy with the smoothness basicpy chose
    save_profiles(profiles, tmp_path / "wsi")
    model = BaSiC.load_model(tmp_path / "wsi")
    assert model.smoothness_flatfield == pytest.approx(direct._smoothness_flatfield.item())


def test_autosegment_excludes_the_sample(small_mosaic):
    planes = np.stack([basic_fit.shrink(p, 24) for p in small_mosaic.tiles[4]])
    weights = basic_fit.segment_background(planes, margin=1)
    bright = planes > np.percentile(planes, 95)
    assert weights[bright].max() == 0  # bright sample never weighs in the fit
    assert 0 < weights.mean() < 1
    eroded = basic_fit.segment_background(planes, margin=3)
    assert eroded.sum() < weights.sum()


def test_autosegment_fit_equals_basicpy_with_the_same_weights(small_mosaic):
    from basicpy import BaSiC

    params = {"working_size": 16, "autosegment": True, "autosegment_margin": 1}
    profiles, _ = estimate_flatfield(small_mosaic.tiles, basic_params=params, n_samples=10, seed=1)
    chosen = basic_fit.choose_planes(9 * 6, 10, seed=1)
    planes = small_mosaic.tiles.reshape(-1, 48, 48)[chosen]
    shrunk = np.stack([basic_fit.shrink(p, 16) for p in planes])
    weights = basic_fit.segment_background(shrunk, 1)
    assert 0 < weights.mean() < 1
    direct = BaSiC(working_size=16)
    direct.fit(shrunk, fitting_weight=weights)
    plain = BaSiC(working_size=16)
    plain.fit(shrunk)
    full = basic_fit._enlarge(direct.flatfield, (48, 48))
    np.testing.assert_allclose(profiles.flatfield, full, rtol=1e-5, atol=1e-6)
    assert np.abs(direct.flatfield - plain.flatfield).max() > 1e-3  # the weights mattered


def test_basic_params_checked():
    with pytest.raises(ValueError, match="unknown setting 'smoothness'"):
        basic_fit.check_basic_params({"smoothness": 1})
    with pytest.raises(ValueError, match="working_size"):
        basic_fit.check_basic_params({"working_size": 1})
    with pytest.raises(ValueError, match="max_workers"):
        basic_fit.check_basic_params({"max_workers": 0})
    assert basic_fit.check_basic_params({"max_iterations": 3})["max_iterations"] == 3


def test_missing_basicpy_names_the_install_command(monkeypatch, small_mosaic, tmp_path):
    monkeypatch.setitem(sys.modules, "basicpy", None)
    with pytest.raises(ImportError, match=r"pip install --no-deps basicpy==2\.0\.0"):
        estimate_flatfield(small_mosaic.tiles, basic_params={"working_size": 16})
    # scenarios 1 and 2 keep working
    profiles, scenario = estimate_flatfield(small_mosaic.tiles, dark=100.0, fov_list=(1, 9))
    assert scenario == "empty"
    save_profiles(profiles, tmp_path / "m")
    _, scenario = estimate_flatfield(small_mosaic.tiles, models_folder=tmp_path / "m")
    assert scenario == "measured"


# --------------------------------------------------------------------------- correction


def test_apply_numpy_dask_dtype_and_baseline():
    rng = np.random.default_rng(0)
    flat = rng.uniform(0.5, 1.5, (30, 40)).astype(np.float32)
    dark = rng.uniform(90, 110, (30, 40)).astype(np.float32)
    image = rng.integers(0, 60000, (5, 30, 40)).astype(np.uint16)
    expected = (image.astype(np.float32) - dark) / flat - 2.5
    profiles = Profiles(flat, dark, np.asarray(2.5))
    eager = apply_flatfield(image, profiles)
    assert eager.dtype == np.float32
    np.testing.assert_allclose(eager, expected, rtol=1e-6, atol=1e-3)
    lazy = apply_flatfield(da.from_array(image, chunks=(2, 13, 17)), profiles)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float32
    np.testing.assert_allclose(lazy.compute(), eager, rtol=1e-6)
    kept = apply_flatfield(da.from_array(image, chunks=(2, 13, 17)), profiles, keep_dtype=True)
    assert kept.dtype == np.uint16
    np.testing.assert_array_equal(
        kept.compute(), np.clip(np.rint(expected), 0, 65535).astype(np.uint16)
    )
    # basicpy's per-plane baseline is not applied (as in basicpy's transform)
    per_plane = Profiles(flat, dark, np.arange(3.0))
    np.testing.assert_allclose(apply_flatfield(image, per_plane), expected + 2.5, rtol=1e-6)


def test_apply_from_a_file_and_bad_input(tmp_path):
    save_profiles(Profiles(np.full((6, 8), 2.0)), tmp_path / "m")
    out = apply_flatfield(np.full((2, 6, 8), 10, np.uint8), tmp_path / "m")
    np.testing.assert_array_equal(out, 5.0)
    with pytest.raises(ValueError, match=r"\(6, 8\)"):
        apply_flatfield(np.zeros((2, 6, 9)), tmp_path / "m")
    with pytest.raises(TypeError, match="dtype"):
        apply_flatfield(np.zeros((6, 8), bool), tmp_path / "m")


def test_estimate_bad_input(mosaic, small_mosaic):
    tiles = small_mosaic.tiles
    with pytest.raises(ValueError, match="reversed"):
        estimate_flatfield(tiles, z_levels=(4, 1))
    with pytest.raises(ValueError, match="outside"):
        estimate_flatfield(tiles, z_levels=(1, 6))
    with pytest.raises(ValueError, match="select no plane"):
        estimate_flatfield(tiles, z_levels=(0, 5))
    with pytest.raises(ValueError, match="fov_list.*10"):
        estimate_flatfield(tiles, fov_list=(1, 10))
    with pytest.raises(ValueError, match="empty"):
        estimate_flatfield(tiles, fov_list=())
    with pytest.raises(ValueError, match="grid_shape"):
        estimate_flatfield(tiles, fov_list=(1,), grid_shape=(2, 3))
    with pytest.raises(ValueError, match="single"):
        estimate_flatfield(tiles[0], fov_list=(1,))
    with pytest.raises(ValueError, match="dark"):
        estimate_flatfield(tiles, dark=np.zeros((3, 3)), fov_list=(1,))
    with pytest.raises(ValueError, match="no signal"):
        estimate_flatfield(tiles, dark=1e6, fov_list=(1,))
    with pytest.raises(ValueError, match="shape"):
        estimate_flatfield(tiles[0, 0], fov_list=(1,))
    with pytest.raises(ValueError, match="channel needs"):
        estimate_flatfield(tiles, channel="GFP", fov_list=(1,))


# --------------------------------------------------------------------------- files as one unit


def test_a_model_folder_is_one_unit_and_an_own_npz_stands_alone(tmp_path):
    first = Profiles(np.full((4, 4), 1.0), settings={"working_size": 16})
    second = Profiles(np.full((4, 4), 2.0), settings={"working_size": 32})
    save_profiles(first, tmp_path / "m")
    with pytest.raises(FileExistsError):
        save_profiles(second, tmp_path / "m")
    assert load_profiles(tmp_path / "m").settings["working_size"] == 16  # untouched
    save_profiles(second, tmp_path / "m", overwrite=True)  # replaces both files
    loaded = load_profiles(tmp_path / "m")
    assert loaded.flatfield[0, 0] == 2.0 and loaded.settings["working_size"] == 32
    # a name of one's own: the settings travel inside it, nothing is written beside it
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "settings.json").write_text('{"working_size": 999}')  # someone else's
    written = save_profiles(second, tmp_path / "own" / "flat_488.npz")
    assert sorted(p.name for p in (tmp_path / "own").iterdir()) == ["flat_488.npz", "settings.json"]
    assert json.loads((tmp_path / "own" / "settings.json").read_text()) == {"working_size": 999}
    assert load_profiles(written).settings["working_size"] == 32

    # a failed save leaves neither file
    class Broken(Profiles):
        @property
        def flatfield(self):
            raise OSError("disk full")

    with pytest.raises(OSError):
        save_profiles(Broken.__new__(Broken), tmp_path / "never")
    assert not list((tmp_path / "never").iterdir())


# --------------------------------------------------------------------------- memory budget


def test_every_plane_within_the_memory_budget_and_a_subset_beyond(mosaic):
    tiles = mosaic.tiles
    profiles, _ = estimate_flatfield(tiles, dark=mosaic.dark, z_levels=(3, 12))
    n_empty = 4 * 6  # corner tiles x planes outside (3, 12) of 16
    assert profiles.info["sampling"] == f"all {n_empty} planes"
    assert len(profiles.info["planes"]) == n_empty
    plane_mb = 96 * 96 * (tiles.dtype.itemsize + 4) / 2**20
    small, _ = estimate_flatfield(
        tiles, dark=mosaic.dark, z_levels=(3, 12), memory_mb=10.5 * plane_mb
    )
    assert len(small.info["planes"]) == 10
    assert small.info["sampling"].startswith("a seeded subset of 10 of 24 planes")
    assert "memory budget" in small.info["sampling"]
    with pytest.raises(ValueError, match="memory_mb"):
        estimate_flatfield(tiles, z_levels=(3, 12), memory_mb=0)


def test_cancel_stops_a_basic_fit_at_its_next_iteration(small_mosaic):
    from detcal.progress import StepCancelled

    reports = []

    def progress(done, total):
        reports.append((done, total))
        if done > 36:  # past the 36 planes read: the fit's iterations
            raise StepCancelled("cancelled")

    with pytest.raises(StepCancelled):
        estimate_flatfield(small_mosaic.tiles, basic_params={"working_size": 16}, progress=progress)
    done, total = reports[-1]
    assert 36 < done < total  # stopped inside the fit, before its end


def test_dark_stack_and_pyramid(small_mosaic):
    from detcal.filters import block_mean

    darks = np.stack([small_mosaic.dark - 2.0, small_mosaic.dark + 2.0])
    a, _ = estimate_flatfield(small_mosaic.tiles, dark=darks, fov_list=(1, 3, 7, 9))
    b, _ = estimate_flatfield(small_mosaic.tiles, dark=small_mosaic.dark, fov_list=(1, 3, 7, 9))
    np.testing.assert_allclose(a.flatfield, b.flatfield, rtol=1e-5)
    image = small_mosaic.tiles[4].astype(np.float32)
    half = image.reshape(6, 24, 2, 24, 2).mean((2, 4))
    out = apply_flatfield([da.from_array(image), da.from_array(half)], b)
    assert isinstance(out, list) and out[1].shape == (6, 24, 24)
    expected = (half - block_mean(b.darkfield, (24, 24))) / block_mean(b.flatfield, (24, 24))
    np.testing.assert_allclose(out[1].compute(), expected, rtol=1e-5)
    np.testing.assert_allclose(out[0].compute(), apply_flatfield(image, b), rtol=1e-6)


def test_apply_keep_dtype_clips_and_rounds_like_rint():
    # values below 0, above the dtype's maximum and exactly half-way between integers
    flat = np.full((1, 6), 0.5, np.float32)
    image = np.array([[[0, 3, 5, 7, 250, 255]]], np.uint8)
    dark = np.full((1, 6), 4.0, np.float32)
    expected = np.clip(np.rint((image.astype(np.float32) - dark) / flat - 0.5), 0, 255)
    for data in (image, da.from_array(image, chunks=(1, 1, 4))):
        out = np.asarray(apply_flatfield(data, Profiles(flat, dark, 0.5), keep_dtype=True))
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, expected.astype(np.uint8))
    assert expected.min() == 0 and expected.max() == 255  # both bounds were reached
