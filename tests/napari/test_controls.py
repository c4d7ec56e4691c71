"""Controls generated from an options dataclass: what the user types becomes validated options."""

from dataclasses import dataclass

import pytest

from detcal._options import check_options, option

pytestmark = pytest.mark.gui


@dataclass
class Opts:
    sigma: float = option(50.0, label="Sigma", help="px", minimum=0, exclusive_minimum=True)
    size: int = option(3, label="Size", help="n", minimum=1, group="Other", advanced=True)
    method: str = option("vo", label="Method", help="m", choices=("vo", "pc"))
    pad: bool = option(True, label="Pad", help="p")
    cutoff: float | None = option(None, label="Cutoff", help="c")
    rows: tuple[int, int] | None = option(None, label="Rows", help="r")

    def __post_init__(self):
        check_options(self)


def test_form_reads_sets_and_names_bad_entries(qtbot):
    from detcal.napari._controls import OptionsForm

    form = OptionsForm(Opts, exclude=("pad",))
    qtbot.addWidget(form.native)
    assert "pad" not in form.controls
    assert form.value() == Opts()
    seen = []
    form.changed.connect(lambda: seen.append(1))
    form.controls["cutoff"].value = "300"
    form.controls["rows"].value = "0 5"
    assert seen
    assert form.value(pad=False) == Opts(cutoff=300.0, rows=(0, 5), pad=False)
    form.controls["rows"].value = "1 2 3"
    with pytest.raises(ValueError, match="^Rows: expected 2 values"):
        form.value()
    form.controls["rows"].value = "a b"
    with pytest.raises(ValueError, match="^Rows: expected numbers"):
        form.value()
    form.set_value(Opts(method="pc", rows=(1, 4)))
    assert form.value().method == "pc" and form.value().rows == (1, 4)
    assert form.controls["sigma"].min > 0


def test_empty_box_of_a_list_option_is_an_empty_list(qtbot):
    from detcal.napari._controls import OptionsForm

    @dataclass
    class Listed:
        ignore: tuple[int, ...] = option((), label="Ignore", help="indices")

        def __post_init__(self):
            check_options(self)

    form = OptionsForm(Listed)
    qtbot.addWidget(form.native)
    assert form.value().ignore == ()
    form.controls["ignore"].value = "3 5"
    assert form.value().ignore == (3, 5)
