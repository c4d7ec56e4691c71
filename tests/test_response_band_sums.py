"""The compiled per-band sums of the response fit against the same sums written in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from detcal.response.band_sums import ALL_SUMS, BAD, DD, GAIN_SUMS, MD, MM, M, N, S, accumulate_band


def _reference(counts, dark, start, stop, smoothed, cutoff, check):
    m = counts[:, start:stop].astype(np.float64).transpose(1, 0, 2) - dark[start:stop, None]
    s = smoothed.astype(np.float64)
    use = (s > cutoff) if check else np.ones_like(s, bool)
    m, s = m * use, s * use
    d = s - m
    terms = {N: use, M: m, MM: m * m, MD: m * d, S: s, DD: d * d}
    # the sums, and the sums of the terms' sizes (float32 rounding is relative to those)
    return {k: (t.sum(1), np.abs(t).sum(1)) for k, t in terms.items()}


@pytest.mark.parametrize("dtype", [np.uint16, np.float64])
@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("quality", [True, False])
def test_band_sums_match_numpy(dtype, check, quality):
    rng = np.random.default_rng(1)
    planes, rows, cols = 5, 12, 37  # a width that is not a multiple of the vector length
    counts = rng.integers(0, 4000, (planes, rows, cols)).astype(dtype)
    dark = rng.uniform(50, 150, (rows, cols)).astype(np.float32)
    start, stop = 3, 9
    smoothed = rng.uniform(0, 3000, (stop - start, planes, cols)).astype(np.float32)
    cutoff = 1000.0  # about a third of the values are below it
    out = np.zeros((ALL_SUMS if quality else GAIN_SUMS, rows, cols), np.float64)
    out[:, :start] = out[:, stop:] = -1.0  # rows outside the band: left alone
    accumulate_band(counts, dark, start, stop, smoothed, cutoff, check, quality, out)
    accumulate_band(counts, dark, start, stop, smoothed, cutoff, check, quality, out)  # adds
    expected = _reference(counts, dark, start, stop, smoothed, cutoff, check)
    for index in (N, M, MM, MD, S, DD) if quality else (N, M, MM, MD):
        total, size = expected[index]
        np.testing.assert_allclose(
            out[index, start:stop], 2 * total, rtol=0, atol=1e-6 * size.max()
        )
    assert (out[:, :start] == -1).all() and (out[:, stop:] == -1).all()
    assert not out[BAD, start:stop].any()  # the non-finite count is not the kernel's
