"""`detcal apply RECIPE INPUT OUTPUT`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_recipe import make_calibration, raw_images

from detcal import io
from detcal.cli import main


@pytest.fixture
def dataset(tmp_path):
    recipe, truth = make_calibration(tmp_path)
    images = raw_images()
    return recipe, io.save_array(images, tmp_path / "raw.zarr"), images, truth


def test_apply_streams_with_a_progress_bar(dataset, tmp_path, capsys):
    recipe, source, images, truth = dataset
    out = tmp_path / "out.h5"
    assert main(["apply", str(recipe), str(source), str(out), "--chunks", "1", "32", "40"]) == 0
    captured = capsys.readouterr()
    assert "apply: 100%" in captured.err
    assert f"wrote {out}" in captured.out and "flatfield.apply_flatfield" in captured.out
    np.testing.assert_allclose(io.open_array(out).compute(), truth(images), rtol=1e-5)
    assert io.read_metadata(out)["detcal"]["recipe"]["detcal_recipe"] == 1
    assert main(["apply", str(recipe), str(source), str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_bad_recipe_is_an_error_naming_step_and_parameter(dataset, tmp_path, capsys):
    recipe, source, _, _ = dataset
    values = json.loads(recipe.read_text())
    values["steps"][0]["params"]["smooth_sigma"] = "wide"
    recipe.write_text(json.dumps(values))
    assert main(["apply", str(recipe), str(source), str(tmp_path / "o.zarr")]) == 2
    err = capsys.readouterr().err
    assert "detcal: error:" in err
    assert "steps[0] (response.correct_image): smooth_sigma: expected a number" in err
    assert not (tmp_path / "o.zarr").exists()


def test_scheduler_address_runs_on_the_cluster_and_prints_the_dashboard(dataset, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    recipe, source, images, truth = dataset
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        out = tmp_path / "o.zarr"
        args = [
            "apply",
            str(recipe),
            str(source),
            str(out),
            "--scheduler",
            cluster.scheduler_address,
        ]
        assert main(args) == 0
    err = capsys.readouterr().err
    assert "dashboard: http" in err and "apply: 100%" in err
    np.testing.assert_allclose(io.open_array(out).compute(), truth(images), rtol=1e-5)


def test_unreachable_scheduler_is_a_clear_error(dataset, tmp_path, capsys):
    recipe, source, _, _ = dataset
    import dask

    args = ["apply", str(recipe), str(source), str(tmp_path / "o.zarr")]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main([*args, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler: cannot connect to 'tcp://127.0.0.1:1'" in capsys.readouterr().err
