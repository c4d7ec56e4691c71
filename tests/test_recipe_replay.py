"""apply_recipe: file to file, read-only input, atomic output, a real cluster, a real SIGKILL."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_recipe import make_calibration, raw_images

from detcal import io
from detcal.recipe import Recipe, RecipeError, apply_recipe


def _tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def dataset(tmp_path):
    recipe, truth = make_calibration(tmp_path)
    images = raw_images()
    source = io.save_array(images, tmp_path / "raw.zarr")
    return recipe, source, images, truth


def test_file_to_file_writes_result_and_recipe_and_leaves_input_alone(dataset, tmp_path):
    recipe, source, images, truth = dataset
    before = _tree_digest(source)
    _read_only(source)
    seen = []
    out = apply_recipe(recipe, source, tmp_path / "out.zarr", progress=lambda d, t: seen.append(d))
    np.testing.assert_allclose(io.open_array(out).compute(), truth(images), rtol=1e-5)
    attrs = io.read_metadata(out)["detcal"]
    assert attrs["input"] == str(source.resolve())
    replayed = Recipe.from_dict(attrs["recipe"])  # absolute paths: runs from anywhere
    assert [s.step for s in replayed.steps] == [s.step for s in Recipe.load(recipe).steps]
    assert seen and seen[-1] > 0
    assert _tree_digest(source) == before
    with pytest.raises(FileExistsError, match="exists"):
        apply_recipe(recipe, source, out)
    for p in [source, *source.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_errors_come_before_anything_is_written(dataset, tmp_path):
    recipe, source, _, _ = dataset
    small = io.save_array(np.zeros((2, 8, 8), np.uint16), tmp_path / "small.zarr")
    with pytest.raises(RecipeError, match=r"steps\[0\] \(response.correct_image\)"):
        apply_recipe(recipe, small, tmp_path / "out.zarr")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"detcal_recipe": 1, "steps": [{"step": "nope"}]}))
    with pytest.raises(RecipeError, match="unknown step 'nope'"):
        apply_recipe(bad, source, tmp_path / "out.zarr")
    with pytest.raises(FileNotFoundError, match="input_path"):
        apply_recipe(recipe, tmp_path / "missing.zarr", tmp_path / "out.zarr")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".out", "out"))]


def test_two_worker_processes_give_the_local_result(dataset, tmp_path):
    distributed = pytest.importorskip("distributed")
    recipe, source, images, truth = dataset
    local = apply_recipe(recipe, source, tmp_path / "local.zarr")
    seen = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        out = apply_recipe(
            recipe, source, tmp_path / "cluster.zarr", scheduler=client, chunks=(1, 32, 40),
            progress=lambda d, t: seen.append((d, t)),
        )  # fmt: skip
        worked = client.run(lambda dask_worker: dask_worker.state.executed_count)
    np.testing.assert_array_equal(io.open_array(out).compute(), io.open_array(local).compute())
    np.testing.assert_allclose(io.open_array(out).compute(), truth(images), rtol=1e-5)
    assert all(count > 0 for count in worked.values()), worked  # both processes computed
    assert seen[-1][0] == seen[-1][1] > 0


def test_bad_scheduler_is_refused(dataset, tmp_path):
    recipe, source, _, _ = dataset
    with pytest.raises(TypeError, match="scheduler"):
        apply_recipe(recipe, source, tmp_path / "o.zarr", scheduler=42)
    assert not (tmp_path / "o.zarr").exists()


# ------------------------------------------------------------------------ SIGKILL in the middle

KILL_SHAPE = (24, 512, 512)
DETCAL = str(Path(sys.executable).with_name("detcal"))  # the installed command


def _chunks_written(folder: Path, name: str) -> int:
    temps = list(folder.glob(f".{name}.detcal-tmp-*"))
    return sum(
        1 for t in temps for p in (t / "0").rglob("*") if p.is_file() and p.name != "zarr.json"
    )


def _run_and_kill(recipe, source, output, *extra) -> None:
    """Start `detcal apply`, SIGKILL it once some chunks of the output are on disk."""
    cmd = [DETCAL, "apply", str(recipe), str(source), str(output)]
    proc = subprocess.Popen([*cmd, "--chunks", "1", "128", "128", *extra], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _chunks_written(output.parent, output.name) < 24:
        assert proc.poll() is None, "the run ended before it could be killed: make data bigger"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_leaves_nothing_or_the_previous_result(tmp_path):
    recipe, _ = make_calibration(tmp_path)
    # planes of 512 x 512: calibration files of that plane shape
    rng = np.random.default_rng(5)
    np.save(tmp_path / "g.npy", rng.uniform(0.9, 1.1, KILL_SHAPE[1:]))
    recipe.write_text(
        json.dumps(
            {
                "detcal_recipe": 1,
                "steps": [
                    {
                        "step": "response.correct_image",
                        "params": {"coefficients": "g.npy", "dark": 5},
                    }
                ],
            }
        )
    )
    images = rng.poisson(900, KILL_SHAPE).astype(np.uint16)
    source = io.save_array(images, tmp_path / "raw.zarr", pyramid=False)
    output = tmp_path / "out.zarr"

    _run_and_kill(recipe, source, output)
    assert not output.exists()  # nothing at the destination

    done = subprocess.run(
        [DETCAL, "apply", str(recipe), str(source), str(output)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "apply: 100%" in done.stderr  # the terminal progress bar
    complete = io.open_array(output).compute()
    expected = Recipe.load(recipe).apply(images)
    np.testing.assert_allclose(complete, expected, rtol=1e-6)

    before = _tree_digest(output)
    _run_and_kill(recipe, source, output, "--overwrite")
    assert _tree_digest(output) == before  # the previous complete result, untouched
