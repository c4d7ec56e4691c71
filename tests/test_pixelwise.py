"""The one-pass per-pixel offset and scale against the same arithmetic written in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from detcal.filters.pixelwise import offset_and_scale


def _reference(block, offset, factor, dtype, divide, baseline):
    kind = factor.dtype
    value = block.astype(kind) - (0 if offset is None else offset.astype(kind))
    value = value / factor if divide else value * factor
    value = value - kind.type(baseline)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return np.rint(np.clip(value, info.min, info.max)).astype(dtype)
    return value.astype(dtype)


@pytest.mark.parametrize("source", [np.uint16, np.float32, np.dtype(">f4"), np.int32])
@pytest.mark.parametrize("divide", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.float64])
@pytest.mark.parametrize("with_offset", [True, False])
def test_same_values_as_numpy(source, divide, dtype, with_offset):
    rng = np.random.default_rng(3)
    block = rng.uniform(0, 70000, (3, 9, 31)).astype(source)
    offset = rng.uniform(50, 150, (9, 31)).astype(np.float32) if with_offset else None
    factor = rng.uniform(0.5, 1.5, (9, 31)).astype(np.float32)
    got = offset_and_scale(block, offset, factor, dtype, divide=divide, baseline=2.5)
    want = _reference(block, offset, factor, dtype, divide, 2.5)
    assert got.dtype == np.dtype(dtype) and got.shape == block.shape
    np.testing.assert_array_equal(got, want)


def test_integer_output_is_clipped_and_a_plane_keeps_its_shape():
    plane = np.array([[0, 10, 65535]], np.uint16)
    out = offset_and_scale(plane, None, np.array([[1.0, 0.25, 0.5]]), np.uint16, divide=True)
    assert out.shape == (1, 3)
    assert out.tolist() == [[0, 40, 65535]]  # 10 / 0.25 = 40; 65535 / 0.5 clipped
    out = offset_and_scale(plane, np.full((1, 3), 20.0), np.ones((1, 3)), np.uint16)
    assert out.tolist() == [[0, 0, 65515]]  # negative values clipped to 0


def test_division_by_zero_gives_infinity_as_numpy_does():
    # the compiled loop uses NumPy's error model (no per-value zero check, so it vectorises)
    block = np.array([[[5, 200, 100]]], np.uint16)
    offset = np.full((1, 3), 100.0, np.float32)
    factor = np.array([[0.0, 0.0, 2.0]], np.float32)
    got = offset_and_scale(block, offset, factor, np.float32, divide=True)
    with np.errstate(divide="ignore"):
        want = _reference(block, offset, factor, np.float32, True, 0.0)
    np.testing.assert_array_equal(got, want)
    assert got.tolist() == [[[-np.inf, np.inf, 0.0]]]


def test_load_loop_loads_the_compiled_loop_in_a_fresh_process():
    import subprocess
    import sys

    code = (
        "from detcal.filters import pixelwise as p\n"
        "assert not p._apply.signatures\n"
        "p.load_loop()\n"
        "assert p._apply.signatures\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
