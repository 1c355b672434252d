"""Output files that can never destroy an input or each other, written whole or not at all.

Rules (README, "Output files"):
- an output must not be an input, lie inside an input folder, or be the same file as another output,
  however the two paths are spelt (relative, ``..``, symbolic links, hard links: compared by real path
  and by device and inode);
- an existing output must be a regular file or a symbolic link to one; a device, FIFO or socket is refused
  (a FIFO would block the run, a device would be written in pieces), as is a folder;
- an output that is a symbolic link is written through: its target is replaced and the link stays;
- the run writes each output to a hidden staging file beside its target and renames it over the target
  only when the whole run succeeded; a failed run leaves the targets as they were and removes the staging
  files. An existing target is replaced as a whole (a new file: its hard links elsewhere keep the old text).
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
from typing import Iterable, Sequence

__all__ = ["OutputPathError", "resolve_outputs", "StagedOutputs"]

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


class OutputPathError(ValueError):
    """An output path that would destroy something or cannot be written; the message says which."""


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _target(path: str) -> str:
    """The file a write to ``path`` lands in: symbolic links followed, then checked."""
    real = os.path.realpath(path)
    if os.path.lexists(real):
        mode = os.stat(real).st_mode if os.path.exists(real) else 0
        if mode and not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise OutputPathError(f"output {path} is {kind}; give the path of a regular file")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise OutputPathError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputPathError(f"cannot write {path}: permission denied in {folder}")
    return real


def resolve_outputs(outputs: Sequence[tuple[str, str]], inputs: Iterable[str]) -> list[str]:
    """The real target of each (label, path) output, or OutputPathError naming the first conflict."""
    inputs = list(inputs)
    real_inputs = [(given, os.path.realpath(given)) for given in inputs]
    targets = []
    for label, path in outputs:
        target = _target(path)
        for given, real in real_inputs:
            if os.path.isdir(real):
                if _inside(target, real):
                    raise OutputPathError(f"{label} {path} is inside the input folder {given}; write it elsewhere")
            elif target == real or _same_file(path, given):
                raise OutputPathError(f"{label} {path} is the input {given}; it would be overwritten")
        for (other_label, other_path), other_target in zip(outputs, targets):
            if target == other_target or _same_file(path, other_path):
                raise OutputPathError(f"{label} {path} and {other_label} {other_path} are the same file")
        targets.append(target)
    return targets


class StagedOutputs:
    """Staging paths for output targets, renamed over them by ``commit`` or removed by ``discard``."""

    def __init__(self, targets: Sequence[str]):
        self.targets = list(targets)
        self.staging = [os.path.join(os.path.dirname(t), f".{os.path.basename(t)}.{os.getpid()}.partial")
                        for t in self.targets]

    def commit(self) -> None:
        """Rename every staging file over its target; an output nothing was written to becomes empty."""
        for staged, target in zip(self.staging, self.targets):
            if not os.path.exists(staged):
                open(staged, "wb").close()
            if os.path.exists(target):
                shutil.copymode(target, staged)
            os.replace(staged, target)

    def discard(self) -> None:
        """Remove the staging files and Beam's temporary folders beside them (best effort)."""
        for staged in self.staging:
            try:
                os.unlink(staged)
            except OSError:
                pass
            folder, name = os.path.split(staged)
            for temp in glob.glob(os.path.join(glob.escape(folder), f"beam-temp-{glob.escape(name)}-*")):
                shutil.rmtree(temp, ignore_errors=True)

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
