"""EDF back-end of :mod:`detcal.io` (ESRF data format), read with fabio when installed.

Opening reads the headers only (``fabio.openheader``); each frame is read when its chunk is
computed. A single-frame file is a (row, col) array, a multi-frame file (frame, row, col).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _fabio():
    try:
        import fabio
    except ImportError as exc:
        raise ImportError("reading EDF files needs fabio: pip install fabio") from exc
    return fabio


class EdfSource:
    """EDF frames read lazily, one frame per read of the first axis."""

    def __init__(self, path: Path, nframes: int, frame_shape, dtype):
        self.path, self.nframes = str(path), nframes
        self.shape = (nframes, *frame_shape) if nframes > 1 else tuple(frame_shape)
        self.dtype, self.ndim = np.dtype(dtype), len(self.shape)

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        image = _fabio().open(self.path)
        if self.nframes == 1:
            return np.asarray(image.data)[index]
        frames = range(self.nframes)[index[0]]
        stack = np.stack([np.asarray(image.getframe(i).data) for i in frames])
        return stack[(slice(None), *index[1:])]


def open_source(path: Path, key: str | None):
    """Return the lazy frames and chunks of one frame."""
    header = _fabio().openheader(str(path))
    nframes = int(getattr(header, "nframes", 1) or 1)
    source = EdfSource(path, nframes, tuple(header.shape), header.dtype)
    return source, ((1,) + source.shape[1:]) if nframes > 1 else source.shape
