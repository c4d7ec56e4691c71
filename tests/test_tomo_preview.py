"""One detector row at a time: prepared sinogram, slice, centre sweep, contrast, lazy volume."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from detcal.sample_data.tomography import make_tomography, relative_rms
from detcal.tomo.dataset import open_dataset, write_dxchange
from detcal.tomo.graph import prepare, reconstruct_volume
from detcal.tomo.options import ReconOptions
from detcal.tomo.preview import (
    contrast_limits,
    find_row_center,
    lazy_reconstruction,
    reconstruct_row,
    row_band,
    row_sinogram,
    sweep_row,
)


@pytest.fixture(scope="module")
def scan():
    return make_tomography(n_angles=120, n_rows=16, n_cols=96, seed=4)


@pytest.fixture(scope="module")
def dataset(scan, tmp_path_factory):
    path = tmp_path_factory.mktemp("preview") / "scan.h5"
    write_dxchange(path, scan.projections, scan.flats, scan.darks, scan.theta)
    return open_dataset(path, slab=2)


@pytest.mark.parametrize(
    "options",
    [
        ReconOptions(slab=2, stripe="ti"),
        ReconOptions(slab=2, outlier_diff=2000.0, outlier_size=3, stripe="sf"),
    ],  # fmt: skip
)
def test_row_sinogram_is_the_runs_row_and_reads_its_share(scan, dataset, reads, options):
    row = 9
    sino = row_sinogram(dataset, row, options)
    # about that row's share of the projection-ordered file: one block of 2 rows (of 16),
    # or two blocks when the 2D outlier median reaches the neighbouring rows
    blocks = 2 if options.outlier_diff else 1
    assert reads["bytes"] == blocks * scan.projections[:, :2].nbytes
    whole = prepare(dataset, options).tomo[:, row].compute()
    np.testing.assert_allclose(sino, whole, rtol=1e-5, atol=1e-5)
    # it is the sinogram of that row, not its neighbour's
    truth = scan.line_integrals[:, row]
    inside = ~scan.outlier_mask[:, row]
    assert (
        np.abs(sino - truth)[inside].mean()
        < np.abs(sino - scan.line_integrals[:, row - 1])[inside].mean()
    )


def test_row_band_reaches_what_the_steps_need():
    n = 2048
    assert row_band(n, 100, ReconOptions()) == (100, 101)
    assert row_band(n, 0, ReconOptions(outlier_diff=9.0, outlier_size=5)) == (0, 3)
    assert row_band(n, 100, ReconOptions(rows=(50, 101), outlier_diff=9.0)) == (99, 101)
    lo, hi = row_band(n, 1000, ReconOptions(phase=True))
    assert lo < 1000 - 10 and hi > 1000 + 10  # the Fresnel blur of the defaults
    with pytest.raises(ValueError, match="row: expected an integer <= 2047"):
        row_band(n, 2048, ReconOptions())
    with pytest.raises(ValueError, match="row: expected an integer >= 50"):
        row_band(n, 10, ReconOptions(rows=(50, 60)))


def test_reconstruct_row_matches_the_whole_run(scan, dataset):
    options = ReconOptions(slab=2, stripe="ti", crop=(4, 4, 4, 4))
    image, center, how = reconstruct_row(dataset, 6, options)
    assert how == "found with vo on row 6" and abs(center - scan.center) < 0.5
    volume = reconstruct_volume(prepare(dataset, options), center, options)
    np.testing.assert_allclose(image, volume[6].compute(), rtol=1e-4, atol=1e-5)
    assert image.shape == (88, 88)


def test_find_row_center_pc(scan, dataset):
    found = find_row_center(dataset, 8, ReconOptions(center_method="pc", center=3.0))
    assert abs(found - scan.center) < 0.5


def test_sweep_row_keeps_the_order_of_the_centres(scan, dataset):
    options = ReconOptions(slab=2, stripe="ti")
    # asymmetric about the truth: a reversed stack would point 1.5 px away
    centers = np.arange(scan.center - 2.5, scan.center + 1.01, 0.5)
    seen = []
    stack = sweep_row(dataset, 5, centers, options, progress=lambda d, t: seen.append((d, t)))
    assert stack.shape == (centers.size, 96, 96)
    assert seen[-1] == (centers.size, centers.size)
    errors = [relative_rms(s, scan.phantom[5], scan.object_mask[5]) for s in stack]
    assert abs(centers[int(np.argmin(errors))] - scan.center) <= 0.25
    one, _, _ = reconstruct_row(dataset, 5, options.replace(center=float(centers[1])))
    assert relative_rms(stack[1], one, scan.object_mask[5]) < 0.05


def test_contrast_limits_are_robust():
    image = np.linspace(0.0, 1.0, 10000).reshape(100, 100)
    image[0, :5] = 1e9  # a few hot pixels do not set the range
    image[1, 0] = np.nan
    low, high = contrast_limits(image)
    assert 0.0 <= low < 0.01 and 0.98 < high <= 1.0
    assert contrast_limits(np.full((4, 4), 2.0)) == (2.0, 3.0)


def test_lazy_reconstruction(scan, dataset):
    volume, center, how, (low, high) = lazy_reconstruction(
        dataset, ReconOptions(slab=2, center=scan.center), row=7
    )
    assert isinstance(volume, da.Array) and volume.shape == (16, 96, 96)
    assert how == "given" and center == scan.center
    row = volume[7].compute()
    inside = (row >= low) & (row <= high)
    assert 0.97 < inside.mean() < 1.0
