"""GUI tests: real napari widgets on a virtual X display (pytest-xvfb starts Xvfb)."""

import os

# the vispy canvas needs a real (virtual) X server; "offscreen" alone fails
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
