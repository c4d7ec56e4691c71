"""The detcal command: sub-commands, errors, and the headless demo against ground truth."""

import argparse
import errno
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import dask.array as da
import numpy as np
import pytest
import zarr

from detcal import io
from detcal import progress as _progress
from detcal.cli import _error_message, build_parser, main


def test_every_step_has_a_subcommand():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert {"demo", "response", "flatfield", "tomo", "info", "convert"} <= set(choices)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "detcal" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate-everything"])
    assert exit_info.value.code == 2


def test_headless_demo_meets_every_ground_truth(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "demo"
    code = main(["demo", "--output", str(out)])
    printed = capsys.readouterr()
    assert "no display found" in printed.err
    findings = json.loads((out / "findings.json").read_text())
    steps = {f["step"] for f in findings}
    assert {"response", "flatfield", "diffraction", "distortion", "tomography", "recipe"} <= steps
    failed = [f for f in findings if not f["ok"]]
    assert not failed, failed
    assert code == 0
    assert (out / "report.txt").read_text().strip() in printed.out
    assert any(p.suffix == ".zarr" for p in out.rglob("*.zarr"))


# ---------------------------------------------------------------- one grammar, fast start


def _parsers(parser, depth=0):
    yield parser, depth
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert action.metavar == ("COMMAND" if depth == 0 else "ACTION"), parser.prog
            for sub in set(action.choices.values()):
                yield from _parsers(sub, depth + 1)


def test_help_tree_reads_consistently():
    seen = 0
    for parser, _depth in _parsers(build_parser()):
        text = parser.format_help()
        assert "``" not in text, parser.prog
        assert "ACTION" not in text or parser.prog != "detcal"
        seen += 1
    assert seen >= 8


def _imported_after(code: str) -> set[str]:
    script = (
        "import sys\nfrom detcal.cli import main\ntry:\n"
        f"    {code}\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return set(run.stdout.split()[-1:] and run.stdout.splitlines()[-1].split())


HEAVY = {"dask.array", "zarr", "scipy", "napari", "qtpy", "h5py", "skimage"}


def test_info_help_and_info_start_without_heavy_imports(real_data):
    assert not HEAVY & _imported_after("main(['info', '--help'])")
    assert "numpy" not in _imported_after("main(['convert', '--help'])")
    loaded = _imported_after(f"main(['info', {str(real_data / 'tooth.h5')!r}])")
    assert "h5py" in loaded and not {"dask.array", "zarr", "scipy", "napari"} & loaded


@pytest.mark.parametrize(
    "command",
    ["tomo", "diffraction", "distortion", "info", "convert", "demo", "response", "flatfield",
     "apply"],
)  # fmt: skip
def test_command_help_starts_without_heavy_imports(command):
    loaded = _imported_after(f"main([{command!r}, '--help'])")
    assert not HEAVY & loaded, sorted(HEAVY & loaded)


def test_top_level_help_starts_without_heavy_imports():
    loaded = _imported_after("main(['--help'])")
    assert not HEAVY & loaded, sorted(HEAVY & loaded)


# ---------------------------------------------------------------- errors: one line, exit 2


def test_messages_name_flags():
    assert _error_message(ValueError("smooth_sigma: expected a number > 0, got -2")) == (
        "--smooth-sigma: expected a number > 0, got -2"
    )
    message = _error_message(ImportError("backend='astra' needs astra, which is not installed"))
    assert message.startswith("--backend astra needs astra")
    assert _error_message(RuntimeError("a bug")) is None  # bugs keep their traceback


def test_missing_optional_backend_is_one_line(real_data, tmp_path, capsys):
    if importlib.util.find_spec("astra") is not None:
        pytest.skip("astra is installed")
    out = tmp_path / "rec.zarr"
    scan = str(real_data / "tooth.h5")
    code = main(["tomo", "recon", scan, "-o", str(out), "--backend", "astra", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("detcal: error: --backend astra needs")
    assert "pip install" in err or "conda install" in err
    assert list(tmp_path.iterdir()) == []


def _source(tmp_path):
    return io.save_array(np.arange(4 * 32 * 32, dtype=np.float32).reshape(4, 32, 32),
                         tmp_path / "in.zarr", pyramid=False)  # fmt: skip


def test_read_only_output_folder(tmp_path, capsys, monkeypatch):
    source = _source(tmp_path)
    out = tmp_path / "ro"
    out.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root ignores chmod
    assert main(["convert", str(source), str(out / "x.zarr")]) == 2
    err = capsys.readouterr().err
    assert err == f"detcal: error: OUTPUT: folder {str(out)!r} is not writable\n"
    assert list(out.iterdir()) == []


def test_permission_denied_while_writing(tmp_path, capsys, monkeypatch):
    source = _source(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".x.zarr.detcal-tmp"))

    monkeypatch.setattr(zarr, "open_group", refuse)
    assert main(["convert", str(source), str(tmp_path / "x.zarr"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("detcal: error: permission denied: ") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.zarr"]


def test_disk_full_while_writing(tmp_path, capsys, monkeypatch):
    source = _source(tmp_path)
    real = zarr.Array.__setitem__
    calls = []

    def full(self, index, value):
        calls.append(index)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device", "chunk")
        return real(self, index, value)

    monkeypatch.setattr(zarr.Array, "__setitem__", full)
    assert (
        main(["convert", str(source), str(tmp_path / "x.zarr"), "-q", "--chunks", "1", "32", "32"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("detcal: error: no space left on the disk")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.zarr"]


def test_corrupt_chunk_names_the_file(tmp_path, capsys):
    source = io.save_array(np.ones((4, 32, 32), np.float32), tmp_path / "in.zarr",
                           pyramid=False)  # fmt: skip
    chunk = next(p for p in (source / "0").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x00garbage" * 8)
    assert main(["convert", str(source), str(tmp_path / "out.tif"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"detcal: error: cannot read {str(source.resolve())!r}: ")
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.zarr"]


def test_missing_zarr_json_is_named(tmp_path, capsys):
    source = _source(tmp_path)
    (source / "zarr.json").unlink()
    (source / "0" / "zarr.json").unlink()
    assert main(["info", str(source)]) == 2
    err = capsys.readouterr().err
    assert "in.zarr" in err and err.strip() != "detcal: error: 0"


def test_threads_bounds_the_workers(tmp_path, monkeypatch):
    import dask

    before = dask.config.get("num_workers", None)
    source = _source(tmp_path)
    seen = []
    real = _progress.ThreadPoolExecutor

    def pool(workers, **kwargs):
        seen.append(workers)
        return real(workers, **kwargs)

    monkeypatch.setattr(_progress, "ThreadPoolExecutor", pool)
    args = ["convert", str(source), str(tmp_path / "o.npy"), "-q", "--threads", "1"]
    assert main(args) == 0
    assert seen == [1]
    assert dask.config.get("num_workers", None) == before  # the run's setting does not leak
    with pytest.raises(SystemExit):
        main(["convert", "a.npy", "b.npy", "--threads", "0"])


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_prints_one_line_exits_130_and_leaves_nothing(tmp_path, as_from_a_terminal):
    source = io.save_array(da.zeros((80, 64, 64), dtype=np.float32, chunks=(1, 64, 64)),
                           tmp_path / "in.zarr", pyramid=False)  # fmt: skip
    script = textwrap.dedent(
        f"""
        import sys, time, zarr
        from detcal.cli import main
        read = zarr.Array.__getitem__
        def slow(self, index):
            time.sleep(0.1)
            return read(self, index)
        zarr.Array.__getitem__ = slow
        sys.exit(main(["convert", {str(source)!r}, {str(tmp_path / "out.zarr")!r},
                       "--threads", "2", "--chunks", "1", "64", "64"]))
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )
    first = proc.stderr.readline()  # the first progress line: the copy is running
    assert first.startswith("convert:"), first
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, rest  # what the run printed, if it was not stopped
    assert rest.strip().splitlines()[-1] == "detcal: interrupted"
    assert "Traceback" not in rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.zarr"]
