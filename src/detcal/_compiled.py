"""Arrays handed to the compiled (numba) loops.

numba compiles for native byte order and has no float16 arithmetic: a big-endian array (as
some EDF and FITS readers return) or a float16 one would stop a compiled loop with a typing
error. Every public function whose data goes to such a loop passes it through
:func:`compiled_input` first.
"""

from __future__ import annotations

import numpy as np


def compiled_input(array) -> np.ndarray:
    """Return ``array`` in a type the compiled loops take, converting only when needed.

    Native byte order is kept as it is (no copy); a non-native byte order becomes the same
    type in native order, float16 becomes float32 (exactly).

    Examples
    --------
    >>> compiled_input(np.arange(3, dtype=">u2")).dtype.str
    '<u2'
    >>> compiled_input(np.ones(2, np.float16)).dtype
    dtype('float32')
    """
    array = np.asarray(array)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array
