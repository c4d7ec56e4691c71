"""Write a file or folder atomically: to a hidden temporary sibling, renamed into place.

An interrupted or failed write leaves nothing at the destination and an existing destination
as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an existing ``path`` is moved away first, then deleted."""
    if not (path.exists() or path.is_symlink()) or not (path.is_dir() or tmp.is_dir()):
        os.replace(tmp, path)
        return
    old = path.with_name(f".{path.name}.detcal-old-{uuid.uuid4().hex[:8]}")
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    remove(old)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Give a temporary sibling of ``path`` to write to; rename it into place on success.

    On an exception (including a cancel) the temporary file or folder is removed and ``path``
    is left as it was. An existing ``path`` is replaced only once the new one is complete.

    Parameters
    ----------
    path : str or path-like
        The final destination (a file or a folder such as a ``.zarr``).

    Yields
    ------
    pathlib.Path
        The temporary path to write.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path).expanduser()
    tmp = path.with_name(f".{path.name}.detcal-tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        move_into_place(tmp, path)
    except BaseException:
        remove(tmp)
        raise
