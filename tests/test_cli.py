"""The detcal command: sub-commands, errors, and the headless demo against ground truth."""

import json

import pytest

from detcal.cli import build_parser, main


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
    assert {"response", "flatfield", "tomography"} <= steps
    failed = [f for f in findings if not f["ok"]]
    assert not failed, failed
    assert code == 0
    assert (out / "report.txt").read_text().strip() in printed.out
    assert any(p.suffix == ".zarr" for p in out.rglob("*.zarr"))
