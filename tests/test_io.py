"""detcal.io: lazy reading, streaming atomic saving, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import dask.array as da
import h5py
import numpy as np
import pytest
import tifffile
import zarr

from detcal import io
from detcal.io import _hdf5 as _io_hdf5
from detcal.io import _tiff as _io_tiff
from detcal.progress import StepCancelled

SHAPE = (7, 101, 113)
CHUNKS = (3, 50, 55)
WRITABLE = ["zarr", "h5", "tif", "npy"]


def _data(dtype, shape=SHAPE, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.normal(100, 30, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)


@pytest.fixture
def count_reads(monkeypatch):
    """Count reads of stored pixels through the lazy sources of every back-end."""
    calls = []

    def wrap(cls):
        original = cls.__getitem__

        def counted(self, index):
            calls.append((cls.__name__, index))
            return original(self, index)

        monkeypatch.setattr(cls, "__getitem__", counted)

    wrap(_io_hdf5.H5Source)
    wrap(_io_tiff.TiffSource)
    wrap(zarr.Array)
    return calls


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("ext", WRITABLE)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "float32", "float64"])
def test_round_trip_odd_chunks(tmp_path, ext, dtype):
    data = _data(dtype)
    out = io.save_array(da.from_array(data, chunks=CHUNKS), tmp_path / f"a.{ext}")
    assert out == tmp_path / f"a.{ext}"
    back = io.open_array(out)
    assert isinstance(back, da.Array)
    assert back.shape == data.shape and back.dtype == data.dtype
    np.testing.assert_array_equal(back.compute(), data)
    rechunked = io.open_array(out, chunks=CHUNKS)
    assert rechunked.chunks == da.core.normalize_chunks(CHUNKS, SHAPE)
    np.testing.assert_array_equal(rechunked[2:5, 40:90, 1:100].compute(), data[2:5, 40:90, 1:100])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"a.{ext}"]  # no temp litter


@pytest.mark.parametrize("ext", WRITABLE)
@pytest.mark.parametrize("shape", [(17,), (33, 21), (2, 3, 9, 11)])
def test_round_trip_other_dimensions_from_numpy(tmp_path, ext, shape):
    data = _data("float32", shape, seed=len(shape))
    out = io.save_array(data, tmp_path / f"b.{ext}")
    np.testing.assert_array_equal(io.open_array(out).compute(), data)


@pytest.mark.parametrize("ext", ["zarr", "h5", "tif"])
def test_attrs_round_trip(tmp_path, ext):
    attrs = {"step": "gains", "params": {"sigma": 50.0, "dark": "layer:dark"}}
    out = io.save_array(_data("uint16", (3, 20, 30)), tmp_path / f"c.{ext}", attrs=attrs)
    assert io.read_metadata(out)["detcal"] == attrs


def test_h5_key_and_compression(tmp_path):
    data = _data("int32")
    out = io.save_array(da.from_array(data, chunks=CHUNKS), tmp_path / "k.hdf5", key="g/frames")
    assert io.list_keys(out) == ["g/frames"]
    with h5py.File(out) as f:
        assert f["g/frames"].chunks == CHUNKS
        assert f["g/frames"].compression == "gzip"
    np.testing.assert_array_equal(io.open_array(out).compute(), data)
    np.testing.assert_array_equal(io.open_array(out, key="/g/frames").compute(), data)


def test_h5_default_data_key_and_single_dataset(tmp_path):
    out = io.save_array(np.arange(12.0).reshape(3, 4), tmp_path / "d.h5")
    assert io.list_keys(out) == ["data"]
    with h5py.File(tmp_path / "single.h5", "w") as f:
        f["deep/only"] = np.arange(6).reshape(2, 3)
        f["note"] = "a string dataset is not an array to open"
    np.testing.assert_array_equal(
        io.open_array(tmp_path / "single.h5").compute(), [[0, 1, 2], [3, 4, 5]]
    )


def test_nexus_default_signal(tmp_path):
    path = tmp_path / "scan.nxs"
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs["default"] = "plot"
        plot = entry.create_group("plot")
        plot.attrs["signal"] = "counts"
        plot["counts"] = np.arange(20).reshape(4, 5)
        plot["x"] = np.arange(5)
    assert io.open_array(path).shape == (4, 5)


def test_npz_members_stored_and_compressed(tmp_path):
    images = _data("uint16", (4, 30, 31))
    np.savez(tmp_path / "one.npz", images=images)
    np.savez_compressed(tmp_path / "two.npz", images=images, theta=np.linspace(0, 1, 4))
    np.testing.assert_array_equal(io.open_array(tmp_path / "one.npz").compute(), images)
    opened = io.open_array(tmp_path / "one.npz", chunks=(1, 7, 30))
    np.testing.assert_array_equal(opened[1:3, 5:20].compute(), images[1:3, 5:20])
    assert io.list_keys(tmp_path / "two.npz") == ["images", "theta"]
    np.testing.assert_array_equal(io.open_array(tmp_path / "two.npz", key="images"), images)
    np.testing.assert_allclose(
        io.open_array(tmp_path / "two.npz", key="theta"), np.linspace(0, 1, 4)
    )


def test_npy_fortran_order(tmp_path):
    data = np.asfortranarray(_data("float64", (20, 30)))
    np.save(tmp_path / "f.npy", data)
    np.testing.assert_array_equal(io.open_array(tmp_path / "f.npy", chunks=(7, 11)).compute(), data)


def test_edf_frames(tmp_path):
    fabio = pytest.importorskip("fabio")
    from fabio.edfimage import EdfImage

    frames = _data("float32", (3, 12, 17))
    image = EdfImage(data=frames[0])
    for frame in frames[1:]:
        image.append_frame(data=frame)
    image.write(str(tmp_path / "f.edf"))
    assert fabio.open(str(tmp_path / "f.edf")).nframes == 3
    back = io.open_array(tmp_path / "f.edf")
    assert back.shape == frames.shape
    np.testing.assert_array_equal(back[1:].compute(), frames[1:])
    EdfImage(data=frames[0]).write(str(tmp_path / "one.edf"))
    np.testing.assert_array_equal(io.open_array(tmp_path / "one.edf").compute(), frames[0])


def test_edf_without_fabio_names_the_install(tmp_path, monkeypatch):
    (tmp_path / "x.edf").write_bytes(b"{\nDim_1 = 2 ;\n}\n")
    monkeypatch.setitem(sys.modules, "fabio", None)
    with pytest.raises(ImportError, match="pip install fabio"):
        io.open_array(tmp_path / "x.edf")


def test_tiff_folder_opens_as_stack(tmp_path):
    planes = _data("uint16", (5, 40, 50))
    folder = tmp_path / "scan"
    folder.mkdir()
    for i, plane in enumerate(planes):
        tifffile.imwrite(folder / f"img_{i:03d}.tif", plane)
    (folder / "notes.txt").write_text("not an image")
    assert io.format_of(folder) == "tiff"
    np.testing.assert_array_equal(io.open_array(folder).compute(), planes)
    np.testing.assert_array_equal(io.open_array(folder, chunks=(2, 15, 50))[3].compute(), planes[3])


def test_bigtiff_above_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(_io_tiff, "_BIGTIFF_ABOVE", 1000)
    io.save_array(_data("uint8", (2, 30, 40)), tmp_path / "big.tif")
    io.save_array(_data("uint8", (2, 10, 10)), tmp_path / "small.tif")
    with tifffile.TiffFile(tmp_path / "big.tif") as tif:
        assert tif.is_bigtiff and len(tif.pages) == 2
    with tifffile.TiffFile(tmp_path / "small.tif") as tif:
        assert not tif.is_bigtiff


# ---------------------------------------------------------------- zarr / OME-Zarr


def test_zarr_v2_and_v3_arrays_and_group_paths(tmp_path):
    data = _data("float32", (6, 40, 30))
    v2 = zarr.create_array(tmp_path / "v2.zarr", shape=data.shape, dtype=data.dtype,
                           chunks=(2, 20, 30), zarr_format=2)  # fmt: skip
    v2[:] = data
    np.testing.assert_array_equal(io.open_array(tmp_path / "v2.zarr").compute(), data)
    group = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=3)
    group.create_array("raw/frames", shape=data.shape, dtype=data.dtype, chunks=(1, 40, 30))[:] = (
        data
    )
    group.create_array("dark", shape=(40, 30), dtype="f4")[:] = 1.5
    assert io.list_keys(tmp_path / "g.zarr") == ["dark", "raw/frames"]
    np.testing.assert_array_equal(io.open_array(tmp_path / "g.zarr", key="raw/frames"), data)
    assert float(io.open_array(tmp_path / "g.zarr", key="dark").mean().compute()) == 1.5


def _mean_2x2_half_up(a):
    rows, cols = a.shape[-2] // 2, a.shape[-1] // 2
    sums = a[..., : rows * 2, : cols * 2].astype(np.int64).reshape(-1, rows, 2, cols, 2)
    return ((sums.sum(axis=(2, 4)) + 2) // 4).reshape(a.shape[:-2] + (rows, cols))


def test_ome_zarr_pyramid_is_the_2x2_mean(tmp_path):
    data = _data("uint16", (2, 2100, 1030))
    out = io.save_array(da.from_array(data, chunks=(1, 700, 515)), tmp_path / "p.zarr")
    levels = io.open_levels(out)
    assert [lv.shape for lv in levels] == [(2, 2100, 1030), (2, 1050, 515), (2, 525, 257)]
    # integers: the exact 2x2 mean rounded half up; level 1 is odd, its last column trimmed
    expect1 = _mean_2x2_half_up(data).astype(np.uint16)
    np.testing.assert_array_equal(levels[1].compute(), expect1)
    expect2 = _mean_2x2_half_up(expect1).astype(np.uint16)
    np.testing.assert_array_equal(levels[2].compute(), expect2)
    floats = io.open_levels(io.save_array(data.astype(np.float32), tmp_path / "f.zarr"))
    np.testing.assert_allclose(
        floats[1].compute(), data.reshape(2, 1050, 2, 515, 2).mean(axis=(2, 4)), rtol=1e-6
    )
    np.testing.assert_array_equal(io.open_array(out, key="1").compute(), expect1)
    np.testing.assert_array_equal(io.open_array(out).compute(), data)


def test_pyramid_can_be_left_out(tmp_path):
    out = io.save_array(np.ones((1500, 1500), np.float32), tmp_path / "n.zarr", pyramid=False)
    assert [lv.shape for lv in io.open_levels(out)] == [(1500, 1500)]
    assert len(io.read_metadata(out)["ome"]["multiscales"][0]["datasets"]) == 1


def test_labels_pyramid_takes_every_other_pixel(tmp_path):
    labels = np.repeat(np.arange(1500, dtype=np.int32)[None, :] % 7, 1100, axis=0)
    out = io.save_array(labels, tmp_path / "l.zarr", labels=True)
    levels = io.open_levels(out)
    np.testing.assert_array_equal(levels[1].compute(), labels[::2, ::2])
    assert "image-label" in io.read_metadata(out)["ome"]


def test_ome_zarr_readable_by_ome_zarr(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    data = _data("float32", (3, 1500, 1200))
    out = io.save_array(da.from_array(data, chunks=(1, 512, 512)), tmp_path / "img.zarr")
    nodes = list(Reader(parse_url(str(out)))())
    image = next(n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs))
    assert [tuple(level.shape) for level in image.data] == [(3, 1500, 1200), (3, 750, 600)]
    np.testing.assert_array_equal(np.asarray(image.data[0][1]), data[1])
    axes = [a["name"] for a in image.metadata["axes"]]
    assert axes == ["z", "y", "x"]


# ---------------------------------------------------------------- laziness


def test_huge_zarr_opens_without_reading(tmp_path, count_reads):
    shape = (5000, 2048, 1024)  # 21 GB of uint16, never written
    zarr.create_array(tmp_path / "huge.zarr", shape=shape, dtype="uint16", chunks=(1, 2048, 1024))
    array = io.open_array(tmp_path / "huge.zarr")
    assert array.shape == shape and array.nbytes > 20e9
    assert array.numblocks == (5000, 1, 1)
    assert count_reads == []
    plane = array[17].compute()
    assert plane.shape == (2048, 1024) and len(count_reads) == 1


def test_real_ct_projections_tif_opens_lazily(real_data, count_reads):
    projections = io.open_array(real_data / "ct_projections.tif", chunks=(1, 300, 300))
    assert projections.shape == (10, 300, 300) and projections.dtype == np.uint16
    assert count_reads == []
    truth = tifffile.imread(real_data / "ct_projections.tif")
    np.testing.assert_array_equal(projections[4].compute(), truth[4])
    assert [index for name, index in count_reads if name == "TiffSource"] == [
        (slice(4, 5), slice(0, 300), slice(0, 300))
    ]


def test_real_dxchange_tooth_opens_by_name(real_data, count_reads):
    path = real_data / "tooth.h5"
    projections = io.open_array(path)
    flats = io.open_array(path, key="exchange/data_white")
    darks = io.open_array(path, key="exchange/data_dark")
    theta = io.open_array(path, key="exchange/theta")
    assert count_reads == []
    assert projections.shape == (181, 2, 640) and projections.dtype == np.float32
    assert flats.shape == (10, 2, 640) and darks.shape == (10, 2, 640)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(projections[90].compute(), f["exchange/data"][90])
        np.testing.assert_array_equal(theta.compute(), f["exchange/theta"][:])
    assert io.read_metadata(path, key="exchange/theta")["units"] == "degrees"
    assert (darks.mean() < flats.mean()).compute()


def test_saving_a_large_lazy_array_keeps_memory_bounded(tmp_path):
    script = textwrap.dedent(
        f"""
        import resource, numpy as np, dask.array as da
        from detcal import io

        def block(block_info=None):
            loc = block_info[None]["array-location"]
            shape = block_info[None]["chunk-shape"]
            return np.full(shape, loc[0][0] % 251, dtype=np.float64)

        lazy = da.map_blocks(block, chunks=((1,) * 96, (1024,), (2048,)), dtype=np.float64)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        io.save_array(lazy, {str(tmp_path / "big.zarr")!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(lazy.nbytes, (after - before) * 1024)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    nbytes, growth = (int(v) for v in run.stdout.split())
    assert nbytes > 1.5e9
    assert growth < 0.2 * nbytes
    levels = io.open_levels(tmp_path / "big.zarr")  # a pyramid level was made too
    assert [lv.shape for lv in levels] == [(96, 1024, 2048), (96, 512, 1024)]
    assert float(levels[0][71, 5, 5].compute()) == 71
    assert float(levels[1][71, 500, 1000].compute()) == 71


# ---------------------------------------------------------------- atomicity


def _failing(shape=(6, 60, 70)) -> da.Array:
    def block(block_info=None):
        loc = block_info[None]["array-location"]
        if loc[0][0] >= 4:
            raise RuntimeError("detector unplugged")
        return np.ones(block_info[None]["chunk-shape"], np.float32)

    return da.map_blocks(block, chunks=((2,) * 3, (30, 30), (35, 35)), dtype=np.float32)


@pytest.mark.parametrize("ext", WRITABLE)
def test_failed_save_leaves_nothing(tmp_path, ext):
    with pytest.raises(RuntimeError, match="unplugged"):
        io.save_array(_failing(), tmp_path / f"x.{ext}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", WRITABLE)
def test_failed_overwrite_keeps_the_old_output(tmp_path, ext):
    old = _data("float32", (6, 60, 70))
    out = io.save_array(old, tmp_path / f"x.{ext}", attrs={"v": 1})
    with pytest.raises(RuntimeError, match="unplugged"):
        io.save_array(_failing(), out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"x.{ext}"]
    np.testing.assert_array_equal(io.open_array(out).compute(), old)


@pytest.mark.parametrize("ext", ["zarr", "tif"])
def test_cancel_through_progress_leaves_nothing(tmp_path, ext):
    def progress(done, total):
        if done > 0:
            raise StepCancelled("stop")

    data = da.zeros((8, 64, 64), chunks=(1, 64, 64))
    with pytest.raises(StepCancelled):
        io.save_array(data, tmp_path / f"c.{ext}", progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_a_zarr_store(tmp_path):
    out = io.save_array(np.zeros((3, 40, 40)), tmp_path / "o.zarr")
    new = _data("uint8", (2, 10, 10))
    io.save_array(new, out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zarr"]
    np.testing.assert_array_equal(io.open_array(out).compute(), new)


def test_progress_reaches_the_end(tmp_path):
    seen = []
    io.save_array(da.ones((2, 1500, 1500), chunks=(1, 500, 500)), tmp_path / "p.zarr",
                  progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and seen[-1][0] == seen[-1][1]


# ---------------------------------------------------------------- bad inputs


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        io.open_array(tmp_path / "nothing.h5")


def test_unknown_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"unknown format.*\.zarr"):
        io.open_array(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"supported: \.zarr, \.h5"):
        io.save_array(np.zeros(3), tmp_path / "out.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither a Zarr store"):
        io.open_array(tmp_path / "empty")


def test_missing_key_lists_the_keys(real_data, tmp_path):
    with pytest.raises(KeyError, match="exchange/data_white"):
        io.open_array(real_data / "tooth.h5", key="exchange/flat")
    np.savez(tmp_path / "m.npz", a=np.zeros(2), b=np.ones(2))
    with pytest.raises(ValueError, match="'a', 'b'"):
        io.open_array(tmp_path / "m.npz")
    with pytest.raises(KeyError, match="'a', 'b'"):
        io.open_array(tmp_path / "m.npz", key="c")
    with pytest.raises(ValueError, match="single array"):
        io.open_array(real_data / "ct_projections.tif", key="0")


@pytest.mark.parametrize("name", ["bad.h5", "bad.tif", "bad.npy", "bad.npz"])
def test_corrupt_files_name_the_file_and_format(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match=rf"{name}.* as "):
        io.open_array(tmp_path / name)


def test_corrupt_zarr(tmp_path):
    store = tmp_path / "bad.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.zarr.* as zarr"):
        io.open_array(store)


def test_save_refusals(tmp_path):
    out = io.save_array(np.zeros((4, 4)), tmp_path / "a.zarr")
    with pytest.raises(FileExistsError, match="a.zarr"):
        io.save_array(np.ones((4, 4)), out)
    with pytest.raises(ValueError, match="key"):
        io.save_array(np.ones((4, 4)), tmp_path / "k.tif", key="data")
    with pytest.raises(TypeError, match="numpy or dask"):
        io.save_array([[1, 2], [3, 4]], tmp_path / "l.npy")
    with pytest.raises(TypeError, match="JSON"):
        io.save_array(np.ones(3), tmp_path / "j.zarr", attrs={"a": object()})
    with pytest.raises(FileNotFoundError, match="missing"):
        io.save_array(np.ones(3), tmp_path / "missing" / "x.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr"]


@pytest.mark.parametrize("ext", WRITABLE)
def test_refuses_to_write_onto_its_input(tmp_path, ext):
    out = io.save_array(_data("float32", (3, 20, 20)), tmp_path / f"in.{ext}")
    before = io.open_array(out).compute()
    derived = io.open_array(out) * 2 + 1
    with pytest.raises(ValueError, match="input"):
        io.save_array(derived, out, overwrite=True)
    np.testing.assert_array_equal(io.open_array(out).compute(), before)
    io.save_array(derived, tmp_path / f"other.{ext}")  # elsewhere is fine


def test_refuses_numpy_memmap_of_the_destination(tmp_path):
    np.save(tmp_path / "m.npy", np.arange(10.0))
    mapped = np.load(tmp_path / "m.npy", mmap_mode="r")
    with pytest.raises(ValueError, match="input"):
        io.save_array(mapped, tmp_path / "m.npy", overwrite=True)


def test_zarr_attrs_are_json(tmp_path):
    out = io.save_array(np.zeros((5, 5)), tmp_path / "j.zarr", attrs={"params": [1, 2.5]})
    meta = json.loads((out / "zarr.json").read_text())
    assert meta["attributes"]["detcal"] == {"params": [1, 2.5]}
    assert meta["attributes"]["ome"]["version"] == "0.5"


# ---------------------------------------------------------------- axes (OME-NGFF)


def test_default_axes_are_zyx_space(tmp_path):
    out = io.save_array(np.zeros((2, 8, 8), np.float32), tmp_path / "d.zarr")
    axes = io.read_metadata(out)["axes"]
    assert [(a["name"], a["type"], a["scale"]) for a in axes] == [
        ("z", "space", 1.0), ("y", "space", 1.0), ("x", "space", 1.0)
    ]  # fmt: skip


def test_axes_types_units_and_pixel_size_reach_ome_zarr(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    pixel = 6.5e-5  # cm
    axes = [{"name": "angle", "unit": "degree"},
            {"name": "y", "unit": "centimeter", "scale": pixel},
            {"name": "x", "unit": "centimeter", "scale": pixel}]  # fmt: skip
    out = io.save_array(np.zeros((3, 1500, 1200), np.float32), tmp_path / "a.zarr", axes=axes)
    meta = json.loads((out / "zarr.json").read_text())["attributes"]["ome"]["multiscales"][0]
    assert meta["axes"] == [{"name": "angle", "type": "angle", "unit": "degree"},
                            {"name": "y", "type": "space", "unit": "centimeter"},
                            {"name": "x", "type": "space", "unit": "centimeter"}]  # fmt: skip
    scales = [d["coordinateTransformations"][0]["scale"] for d in meta["datasets"]]
    assert scales == [[1.0, pixel, pixel], [1.0, 2 * pixel, 2 * pixel]]
    assert zarr.open_array(out / "0", mode="r").metadata.dimension_names == ("angle", "y", "x")
    nodes = list(Reader(parse_url(str(out)))())
    image = next(n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs))
    assert [a["name"] for a in image.metadata["axes"]] == ["angle", "y", "x"]
    back = io.read_metadata(out)["axes"]
    assert back[1] == {"name": "y", "type": "space", "unit": "centimeter", "scale": pixel}


@pytest.mark.parametrize("ext", ["h5", "tif"])
def test_axes_round_trip_in_h5_and_tiff(tmp_path, ext):
    axes = [{"name": "t", "unit": "second", "scale": 0.5}, "y", "x"]
    out = io.save_array(np.zeros((2, 5, 6), np.uint8), tmp_path / f"a.{ext}", axes=axes)
    assert [(a["name"], a["type"], a["scale"]) for a in io.read_metadata(out)["axes"]] == [
        ("t", "time", 0.5), ("y", "space", 1.0), ("x", "space", 1.0)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        (["y", "x"], "2 entries but the array has 3"),
        (["z", "y", "y"], "must differ"),
        ([{"name": "x", "unit": "furlong"}, "y", "x2"], "not an OME-NGFF space unit"),
        (["z", {"name": "y", "scale": 0}, "x"], "scale must be a number > 0"),
        (["y", "x", "angle"], "must end with 2 or 3 space axes"),
        ("zyx", "one entry per dimension"),
    ],
)
def test_bad_axes_are_refused_before_writing(tmp_path, axes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        io.save_array(np.zeros((2, 4, 4)), tmp_path / "bad.zarr", axes=axes)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- folders of TIFF files


@pytest.mark.parametrize(
    "odd",
    [
        np.zeros((40, 51), np.uint16),
        np.zeros((40, 50), np.float32),
        np.zeros((10, 40, 50), np.uint16),
    ],
    ids=["shape", "dtype", "pages"],
)
def test_mixed_tiff_folder_is_refused(tmp_path, odd):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"img_{i}.tif", np.full((40, 50), i, np.uint16))
    tifffile.imwrite(folder / "img_3.tif", odd)
    with pytest.raises(ValueError, match=r"cannot stack folder .*img_3\.tif holds"):
        io.open_array(folder)


# ---------------------------------------------------------------- single reads, bounded caches


def test_tiff_output_reads_each_input_chunk_once(tmp_path, count_reads):
    data = _data("uint16", (16, 24, 20))
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f.create_dataset("data", data=data, chunks=(1, 24, 20))
    # planes of the output are rows of the input: every output slab needs every input chunk
    lazy = io.open_array(tmp_path / "in.h5", chunks=(1, 24, 20)).rechunk((16, 4, 20))
    out = io.save_array(lazy.transpose(1, 0, 2), tmp_path / "out.tif")
    reads = [c for c in count_reads if c[0] == "H5Source"]
    assert len(reads) == 16  # one per stored chunk, not one per slab (6 slabs -> 96)
    np.testing.assert_array_equal(tifffile.imread(out), data.transpose(1, 0, 2))


def test_tiff_view_cache_stays_bounded(tmp_path):
    _io_tiff._cache.clear()
    for i in range(_io_tiff.CACHE_SIZE + 5):
        tifffile.imwrite(tmp_path / f"f{i}.tif", np.full((3, 4), i, np.uint8))
        assert int(io.open_array(tmp_path / f"f{i}.tif")[0, 0].compute()) == i
    assert len(_io_tiff._cache) == _io_tiff.CACHE_SIZE


def test_opened_sources_are_not_kept_once_the_array_is_gone(tmp_path):
    import gc
    import weakref

    np.save(tmp_path / "a.npy", np.zeros(3))
    refs = []
    for _ in range(20):
        graph = io.open_array(tmp_path / "a.npy").__dask_graph__()
        name = next(n for n in graph.layers if n.startswith("original-"))
        refs.append(weakref.ref(graph.layers[name][name]))
        del graph
    gc.collect()
    assert [r() for r in refs] == [None] * 20


# ---------------------------------------------------------------- errors that are not format errors


@pytest.mark.parametrize("error", [MemoryError, PermissionError])
def test_memory_and_permission_errors_are_not_called_corrupt(tmp_path, monkeypatch, error):
    np.save(tmp_path / "a.npy", np.zeros(3))

    def fail(path, key):
        raise error("as itself")

    monkeypatch.setattr(io._backend("npy"), "open_source", staticmethod(fail))
    with pytest.raises(error, match="as itself"):
        io.open_array(tmp_path / "a.npy")


def test_a_corrupt_chunk_names_the_file(tmp_path):
    out = io.save_array(np.ones((4, 32, 32), np.float32), tmp_path / "c.zarr", pyramid=False)
    chunk = next(p for p in (out / "0").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x00garbage")
    with pytest.raises(io.ReadError, match="cannot read .*c.zarr"):
        io.open_array(out).compute()


def test_inputs_are_opened_read_only(tmp_path):
    sources = [
        io.save_array(_data("uint16", (3, 10, 12)), tmp_path / f"in.{ext}") for ext in WRITABLE
    ]
    before = {p: sorted((q, q.stat().st_mtime_ns) for q in [p, *p.rglob("*")]) for p in sources}
    for path in sources:
        path.chmod(0o444) if path.is_file() else None
        io.open_array(path).sum().compute()
        io.read_metadata(path)
    assert before == {
        p: sorted((q, q.stat().st_mtime_ns) for q in [p, *p.rglob("*")]) for p in sources
    }


# ---------------------------------------------------------------- cancel waits for the writers


def test_cancel_waits_for_writing_threads_before_cleanup(tmp_path):
    """A chunk still being written when the cancel lands must not recreate the temporary."""
    import threading
    import time

    started = threading.Event()

    def block(block_info=None):
        started.set()
        time.sleep(0.3 if block_info[None]["chunk-location"][0] else 0.0)
        return np.ones(block_info[None]["chunk-shape"], np.float32)

    data = da.map_blocks(block, chunks=((1,) * 6, (32,), (32,)), dtype=np.float32)

    def progress(done, total):
        if done >= 1:
            raise StepCancelled("stop")

    for _ in range(2):
        with pytest.raises(StepCancelled):
            io.save_array(data, tmp_path / "c.zarr", progress=progress, pyramid=False)
        assert list(tmp_path.iterdir()) == []
        time.sleep(0.5)  # a straggler thread would write its chunk now
        assert list(tmp_path.iterdir()) == []
