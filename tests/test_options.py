"""The options layer: one dataclass per step gives the checks and the command-line flags."""

import argparse
from dataclasses import dataclass

import pytest

from detcal._options import check_options, option, options_dict
from detcal.cli._flags import add_option_flags, flag_message, options_from_args


@dataclass
class Opts:
    sigma: float = option(
        50.0, label="Sigma", help="smoothing, px", minimum=0, exclusive_minimum=True
    )
    size: int = option(3, label="Size", help="filter size", minimum=1, group="Other")
    method: str = option("vo", label="Method", help="centre method", choices=("vo", "pc"))
    pad: bool = option(True, label="Pad", help="pad sinograms")
    cutoff: float | None = option(None, label="Cutoff", help="upper limit")
    rows: tuple[int, int] | None = option(None, label="Rows", help="row range")
    centers: tuple[float, ...] = option((), label="Centres", help="candidates")

    def __post_init__(self):
        check_options(self)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"sigma": 0}, ValueError, "sigma: expected a number > 0"),
        ({"sigma": "a"}, TypeError, "sigma"),
        ({"size": 0}, ValueError, "size: expected an integer >= 1"),
        ({"size": 2.5}, TypeError, "size"),
        ({"method": "xx"}, ValueError, "method: unknown value 'xx'"),
        ({"pad": 1}, TypeError, "pad"),
        ({"rows": (1, 2, 3)}, ValueError, "rows: expected 2 values"),
        ({"centers": (1, float("nan"))}, ValueError, "centers"),
    ],
)
def test_bad_options_are_named(changes, error, match):
    with pytest.raises(error, match=match):
        Opts(**changes)


def test_options_normalised_and_listed():
    opts = Opts(rows=[0, 4], centers=[1, 2.5], size=4)
    assert opts.rows == (0, 4) and opts.centers == (1.0, 2.5)
    assert options_dict(opts)["rows"] == [0, 4]


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_option_flags(parser, Opts)
    return parser, parser.parse_args(argv)


def test_every_option_has_a_flag_with_its_default_in_the_help():
    parser, _ = _parse([])
    text = parser.format_help()
    for flag in ("--sigma", "--size", "--method", "--pad", "--no-pad", "--cutoff", "--rows"):
        assert flag in text
    assert "(default: 50.0)" in text and "(default: automatic)" in text
    assert "(default: on)" in text


def test_flags_build_the_options_and_keep_defaults():
    _, args = _parse(["--rows", "2", "9", "--no-pad", "--centers", "10", "11", "12"])
    opts = options_from_args(Opts, args)
    assert opts.rows == (2, 9) and opts.pad is False and opts.centers == (10.0, 11.0, 12.0)
    assert opts.sigma == 50.0 and opts.cutoff is None


def test_flag_errors_name_the_flag():
    _, args = _parse(["--sigma", "-2"])
    with pytest.raises(ValueError, match=r"^--sigma: expected a number > 0"):
        options_from_args(Opts, args)
    assert flag_message("center_row: bad") == "--center-row: bad"


def test_validation_never_computes_a_dask_array():
    import dask.array as da
    import numpy as np

    from detcal import _validate

    def boom(block):
        raise AssertionError("computed")

    lazy = da.zeros((4, 8, 8), chunks=(1, 8, 8)).map_blocks(boom, dtype=np.float32)
    assert _validate.array(lazy, "images", ndim=3) is lazy
    _validate.real_dtype(lazy, "images")
