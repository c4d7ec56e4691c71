"""napari sample-data contributions: every synthetic dataset with its truth, and the real data.

Each function returns napari ``LayerData`` tuples. Ground truth comes as extra layers (hidden
where it would clutter the view) and in ``metadata["detcal"]["truth"]``, so a user can compare
what a step finds with what is known. Image layers open with contrast limits from robust
percentiles (:func:`detcal.napari._background.robust_limits`), so a few saturated pixels do
not leave the picture black; layers of bundled files record the file in
``metadata["source"]``, so a step using them records its path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import h5py
import imageio.v3 as iio
import numpy as np
import tifffile

from detcal.napari._background import robust_limits
from detcal.sample_data import real_data_path
from detcal.sample_data.hole_grid import make_hole_grid
from detcal.sample_data.mosaic import make_mosaic
from detcal.sample_data.powder import make_powder, make_powder_series
from detcal.sample_data.sweep import make_sweep
from detcal.sample_data.tomography import make_tomography

_TRUTH_POINTS = {"face_color": "transparent", "border_color": "cyan", "border_width": 0.15}


def _robust_contrast(sample: Callable[[], list]) -> Callable[[], list]:
    """Give each image layer of ``sample`` robust contrast limits unless it sets its own."""

    @functools.wraps(sample)
    def with_contrast() -> list:
        layers = sample()
        for data, kwargs, layer_type in layers:
            if layer_type == "image" and "contrast_limits" not in kwargs:
                kwargs["contrast_limits"] = robust_limits(data)
        return layers

    return with_contrast


def _file(name: str) -> dict:
    return {"source": {"path": str(real_data_path() / name), "key": None}}


def _truth(**values) -> dict:
    return {"detcal": {"truth": values}}


@_robust_contrast
def sweep():
    """Detector sweep (synthetic): sweep volume, dark, flat, a test image, the true gains."""
    s = make_sweep()
    return [
        (s.volume, {"name": "sweep"}, "image"),
        (s.dark, {"name": "sweep dark"}, "image"),
        (s.flat, {"name": "sweep flat"}, "image"),
        (s.test_image, {"name": "sweep test image"}, "image"),
        (s.gains, {"name": "true gains", "visible": False}, "image"),
        (s.true_intensity, {"name": "true intensity", "visible": False}, "image"),
    ]


@_robust_contrast
def ct_projections():
    """Real CT projections with the detector's dark, flat and detectorcal coefficients."""
    folder = real_data_path()
    return [
        (
            tifffile.imread(folder / "ct_projections.tif"),
            {"name": "CT projections", "metadata": _file("ct_projections.tif")},
            "image",
        ),
        (
            tifffile.imread(folder / "dark.tif"),
            {"name": "CT dark", "metadata": _file("dark.tif")},
            "image",
        ),
        (
            tifffile.imread(folder / "flat.tif"),
            {"name": "CT flat", "metadata": _file("flat.tif")},
            "image",
        ),
        (
            tifffile.imread(folder / "coefficients.tif"),
            {
                "name": "CT coefficients (detectorcal)",
                "visible": False,
                "metadata": _file("coefficients.tif"),
            },
            "image",
        ),
    ]


@_robust_contrast
def mosaic():
    """Mosaic tiles, 3x3 inverted-N (synthetic): (tile, z, row, col), dark, the true flat."""
    m = make_mosaic()
    truth = _truth(
        grid_shape=list(m.grid_shape), empty_tiles=list(m.empty_tiles), empty_z=list(m.empty_z)
    )
    return [
        # the Flat-field widget reads the tile layout from metadata["grid_shape"]
        (
            m.tiles,
            {"name": "mosaic tiles", "metadata": {"grid_shape": list(m.grid_shape), **truth}},
            "image",
        ),
        (m.dark, {"name": "mosaic dark", "visible": False}, "image"),
        (m.flatfield, {"name": "true flatfield", "visible": False}, "image"),
    ]


@_robust_contrast
def wsi_brain():
    """Real whole-slide brain mosaic tiles, the BaSiC paper's example (63, 128, 128)."""
    with np.load(real_data_path() / "wsi_brain.npz", allow_pickle=False) as npz:
        images = npz["images"]
    return [(images, {"name": "WSI brain tiles"}, "image")]


@_robust_contrast
def powder():
    """Powder pattern with a beam block (synthetic): image, block mask, true centre and rings."""
    p = make_powder()
    rings = [np.array([p.center, [r, r]]) for r in p.ring_radii]
    meta = _truth(center=list(p.center), ring_radii=p.ring_radii.tolist())
    return [
        (p.image, {"name": "powder", "metadata": meta}, "image"),
        (p.mask.astype(np.uint8), {"name": "powder beam block", "opacity": 0.4}, "labels"),
        (
            np.array([p.center]),
            {"name": "powder centre (truth)", "size": 10, **_TRUTH_POINTS},
            "points",
        ),
        (
            rings,
            {
                "name": "powder rings (truth)",
                "shape_type": "ellipse",
                "edge_color": "cyan",
                "face_color": "transparent",
                "edge_width": 1,
                "visible": False,
            },
            "shapes",
        ),
    ]


@_robust_contrast
def powder_series():
    """Drifting powder series (synthetic): stack, fixed beam-block mask, true centre per plane."""
    s = make_powder_series()
    meta = _truth(centers=s.centers.tolist(), shifts=s.shifts.tolist())
    centres = np.column_stack([np.arange(len(s.centers)), s.centers])
    return [
        (s.images, {"name": "powder series", "metadata": meta}, "image"),
        (s.mask.astype(np.uint8), {"name": "powder series beam block", "opacity": 0.4}, "labels"),
        (centres, {"name": "powder series centres (truth)", "size": 10, **_TRUTH_POINTS}, "points"),
    ]


@_robust_contrast
def hole_grid():
    """Hole grid seen through a known distortion (synthetic): image, true centres and field."""
    g = make_hole_grid()
    arrows = np.stack([g.ideal_points, g.points - g.ideal_points], axis=1)
    return [
        (g.image, {"name": "hole grid", "metadata": _truth(pitch=g.pitch)}, "image"),
        (
            g.displacement[0],
            {"name": "true dy (px)", "colormap": "twilight_shifted", "visible": False},
            "image",
        ),
        (
            g.displacement[1],
            {"name": "true dx (px)", "colormap": "twilight_shifted", "visible": False},
            "image",
        ),
        (
            g.points,
            {"name": "hole centres (truth)", "size": g.hole_diameter + 2, **_TRUTH_POINTS},
            "points",
        ),
        (
            arrows,
            {
                "name": "displacement x5 (truth)",
                "length": 5.0,
                "edge_color": "yellow",
                "edge_width": 1.0,
            },
            "vectors",
        ),
    ]


@_robust_contrast
def dot_pattern():
    """Real dot-grid calibration target with radial lens distortion (discorpy's example)."""
    image = iio.imread(real_data_path() / "dot_pattern_05.jpg")
    if image.ndim == 3:
        image = image[..., :3].mean(axis=-1).astype(np.uint8)
    return [(image, {"name": "dot pattern"}, "image")]


def _tomography(full_360: bool, name: str):
    t = make_tomography(full_360=full_360, n_angles=360 if full_360 else 180, n_rows=8)
    theta = t.theta.tolist()
    return [
        (
            t.projections,
            {
                "name": f"{name} projections",
                "metadata": {"theta": theta, **_truth(center=t.center)},
            },
            "image",
        ),
        (t.flats, {"name": f"{name} flats", "visible": False}, "image"),
        (t.darks, {"name": f"{name} darks", "visible": False}, "image"),
        (t.phantom, {"name": f"{name} phantom (truth)", "visible": False}, "image"),
    ]


@_robust_contrast
def tomo_180():
    """Tomography over 0-180 degrees (synthetic): projections, flats, darks, the phantom."""
    return _tomography(False, "tomo 180")


@_robust_contrast
def tomo_360():
    """Tomography over 0-360 degrees (synthetic): projections, flats, darks, the phantom."""
    return _tomography(True, "tomo 360")


@_robust_contrast
def tooth():
    """Real synchrotron micro-CT of a tooth (APS, DXchange): projections, flats, darks."""
    with h5py.File(real_data_path() / "tooth.h5", "r") as f:
        data = f["exchange/data"][()]
        flats = f["exchange/data_white"][()]
        darks = f["exchange/data_dark"][()]
        theta = np.deg2rad(f["exchange/theta"][()]).tolist()
    return [
        (data, {"name": "tooth projections", "metadata": {"theta": theta}}, "image"),
        (flats, {"name": "tooth flats", "visible": False}, "image"),
        (darks, {"name": "tooth darks", "visible": False}, "image"),
    ]
