"""mean_and_sem against numpy on numpy, dask (odd chunks), generators, weights; laziness."""

import dask.array as da
import numpy as np
import pytest

from detcal.diffraction import mean_and_sem


@pytest.fixture(scope="module")
def series():
    # a large mean and a small spread: a sum-of-squares formula would lose the digits
    return np.random.default_rng(3).normal(1e6, 2.0, (13, 37, 29)).astype(np.float32)


def _expected(x, weights=None):
    x = x.astype(np.float64)
    if weights is None:
        return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(len(x))
    w = np.asarray(weights, np.float64)[:, None, None]
    mean = (w * x).sum(0) / w.sum()
    variance = (w * (x - mean) ** 2).sum(0) / (w.sum() - (w**2).sum() / w.sum())
    return mean, np.sqrt(variance / (w.sum() ** 2 / (w**2).sum()))


@pytest.mark.parametrize(
    "kind", ["numpy", "dask odd chunks", "dask one chunk", "generator", "list", "big-endian"]
)
def test_matches_numpy(series, kind):
    data = {
        "numpy": series,
        "dask odd chunks": da.from_array(series, chunks=(4, 20, 13)),
        "dask one chunk": da.from_array(series),
        "generator": (plane for plane in series),
        "list": list(series),
        "big-endian": da.from_array(series.astype(">f4"), chunks=(4, 20, 13)),
    }[kind]
    mean, sem = mean_and_sem(data)
    expected_mean, expected_sem = _expected(series)
    assert mean.shape == sem.shape == (37, 29)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-14)
    np.testing.assert_allclose(sem, expected_sem, rtol=1e-10)


@pytest.mark.parametrize("lazy", [False, True])
def test_weights(series, lazy):
    weights = np.random.default_rng(1).uniform(0, 3, len(series))
    weights[2] = 0.0
    data = da.from_array(series, chunks=(5, 37, 10)) if lazy else series
    mean, sem = mean_and_sem(data, weights=weights)
    expected_mean, expected_sem = _expected(series, weights)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-14)
    np.testing.assert_allclose(sem, expected_sem, rtol=1e-8)
    # scaling the weights changes nothing; a weighted generator matches too
    mean2, sem2 = mean_and_sem(iter(series), weights=list(5 * weights))
    np.testing.assert_allclose(mean2, expected_mean, rtol=1e-14)
    np.testing.assert_allclose(sem2, expected_sem, rtol=1e-8)


class _CountingSource:
    """Array-like whose reads are recorded; reading more than one chunk at a time fails."""

    def __init__(self, data, largest):
        self.data, self.largest, self.reads = data, largest, []
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim

    def __getitem__(self, key):
        block = self.data[key]
        if block.size > self.largest:
            raise MemoryError(f"read {block.shape}: the series was computed whole")
        self.reads.append(block.shape)
        return block


def test_dask_is_read_chunk_by_chunk(series):
    chunks = (3, 37, 29)
    source = _CountingSource(series, largest=int(np.prod(chunks)))
    lazy = da.from_array(source, chunks=chunks, asarray=True, fancy=False)
    source.reads.clear()  # dask's probe of the dtype
    seen = []
    mean, sem = mean_and_sem(lazy, progress=lambda done, total: seen.append((done, total)))
    assert len(source.reads) == lazy.numblocks[0]  # each chunk read once: one pass
    np.testing.assert_allclose(mean, series.astype(np.float64).mean(0), rtol=1e-14)
    assert seen and seen[-1][0] == seen[-1][1] > 0


def test_generator_is_consumed_once_with_progress(series):
    consumed = []

    def planes():
        for plane in series:
            consumed.append(1)
            yield plane

    reports = []
    mean_and_sem(planes(), progress=lambda d, t: reports.append((d, t)))
    assert len(consumed) == len(series)
    assert reports[-1] == (len(series), 0)  # unknown length


def test_nan_propagates_like_numpy(series):
    data = series.copy()
    data[4, 2, 3] = np.nan
    mean, sem = mean_and_sem(data)
    assert np.isnan(mean[2, 3]) and np.isnan(sem[2, 3])
    assert np.isfinite(np.delete(mean.ravel(), 2 * 29 + 3)).all()
