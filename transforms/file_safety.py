"""Reading article files without trusting them: regular files only, every read bounded, every failure a value.

No Beam here. A folder is listed lazily (one directory at a time, sorted), so a folder of a million
files never becomes a list; a file is opened without blocking and checked to be a regular file
before a byte is read, so a FIFO, a device or a link to one can neither hang nor flood the run;
every read stops one byte past the payload limit, so no file is buffered whole before its size is
known. What cannot be read is returned as a ``FileProblem`` naming the reason, never raised.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from typing import Iterator, NamedTuple

__all__ = ["FileProblem", "walk_regular_files", "open_regular_file", "read_bounded", "read_lines_bounded"]

_LOGGER = logging.getLogger(__name__)

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}
_READ_CHUNK = 1 << 16


class FileProblem(NamedTuple):
    """A path that is skipped, and why in a few words."""

    path: str
    reason: str


def _describe(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno == errno.ENOENT:
        return "dangling link or vanished file"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return os.strerror(error.errno) if error.errno else str(error)


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def walk_regular_files(root: str, suffixes) -> Iterator[str | FileProblem]:
    """Paths of the regular files (or links to them) under ``root`` whose suffix is in ``suffixes``,
    depth first in sorted order, and a FileProblem for each entry with such a suffix that is not one
    and for each folder that cannot be listed. Links to folders are not followed (no loops)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                names = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)
        except OSError as err:
            yield FileProblem(folder, f"folder cannot be listed: {_describe(err)}")
            continue
        subfolders = []
        for name, is_dir in names:
            path = os.path.join(folder, name)
            if is_dir:
                subfolders.append(path)
            elif os.path.splitext(name)[1].lower() in suffixes:
                yield path
        stack.extend(reversed(subfolders))


def open_regular_file(path: str):
    """A binary file object for ``path`` if it is (or links to) a regular file we may read, else a FileProblem.

    Opened with O_NONBLOCK so that a FIFO cannot block the open; the check is on the opened
    descriptor, so a file swapped for something else between listing and reading is caught too.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        return FileProblem(path, _describe(err))
    try:
        mode = os.fstat(fd).st_mode
    except OSError as err:
        os.close(fd)
        return FileProblem(path, _describe(err))
    if not stat.S_ISREG(mode):
        os.close(fd)
        return FileProblem(path, f"{_kind(mode)}, not a regular file")
    return os.fdopen(fd, "rb")


def read_bounded(handle, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` + 1 bytes of ``handle``; the flag says the file is longer than ``limit``."""
    data = handle.read(limit + 1)
    return data, len(data) > limit


def read_lines_bounded(handle, limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its end, over the limit) for each line; a line longer than ``limit``
    is returned cut at ``limit`` + 1 bytes and the rest of it is skipped unread into memory."""
    line_number = 0
    while True:
        line = handle.readline(limit + 2)  # limit + 1 bytes of content, plus its newline
        if not line:
            return
        line_number += 1
        content = line.rstrip(b"\r\n")
        if len(content) > limit:
            if not line.endswith(b"\n"):
                _skip_rest_of_line(handle)
            yield line_number, content[: limit + 1], True
        else:
            yield line_number, content, False


def _skip_rest_of_line(handle) -> None:
    while True:
        chunk = handle.readline(_READ_CHUNK)
        if not chunk or chunk.endswith(b"\n"):
            return
