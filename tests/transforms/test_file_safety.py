"""transforms/file_safety.py without Beam: what is read, what is refused and why, and that reads are bounded."""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from transforms import file_safety
from transforms.file_safety import FileProblem, open_regular_file, read_bounded, read_lines_bounded, walk_regular_files

SUFFIXES = {".json", ".jsonl"}


def test_walk_lists_regular_files_depth_first_and_names_each_problem(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.json").write_text("{}")
    (tmp_path / "1.jsonl").write_text("{}")
    (tmp_path / "notes.txt").write_text("not an article")
    (tmp_path / "dangling.json").symlink_to(tmp_path / "gone.json")
    (tmp_path / "folder-link").symlink_to(tmp_path / "b")  # not followed: no loops, no double reads
    found = list(walk_regular_files(str(tmp_path), SUFFIXES))
    # a folder's own files first, then its subfolders, each in name order
    assert found == [str(tmp_path / "1.jsonl"), str(tmp_path / "dangling.json"), str(tmp_path / "b" / "2.json")]
    assert open_regular_file(found[1]).reason == "dangling link or vanished file"


def test_special_files_are_refused_before_a_byte_is_read(tmp_path):
    os.mkfifo(tmp_path / "fifo.json")  # opening a FIFO for reading would block without O_NONBLOCK
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    (tmp_path / "loop.json").symlink_to(tmp_path / "loop.json")
    assert open_regular_file(str(tmp_path / "fifo.json")).reason == "a FIFO, not a regular file"
    assert open_regular_file(str(tmp_path / "zero.json")).reason == "a character device, not a regular file"
    assert open_regular_file(str(tmp_path / "loop.json")).reason == "symbolic link loop"
    assert open_regular_file(str(tmp_path)).reason == "a folder, not a regular file"


def test_reads_stop_one_byte_past_the_limit():
    class CountingReader(io.BytesIO):
        asked = 0

        def read(self, size=-1):
            CountingReader.asked = size
            return super().read(size)

    assert read_bounded(CountingReader(b"x" * 100), 10) == (b"x" * 11, True)
    assert CountingReader.asked == 11  # never "read everything, then check"
    assert read_bounded(io.BytesIO(b"short"), 10) == (b"short", False)


def test_long_lines_are_cut_and_the_rest_is_skipped_without_buffering():
    handle = io.BytesIO(b"ok\r\n" + b"y" * 1000 + b"\nlast")
    assert list(read_lines_bounded(handle, 5)) == [(1, b"ok", False), (2, b"y" * 6, True), (3, b"last", False)]


def _as_unprivileged(script: str, *args: str) -> dict:
    """Runs ``script`` with file_safety importable, as an unprivileged user when we are root (root reads
    any file, so a permission problem exists only for another user). file_safety needs only the standard
    library, so it is copied where that user may read it and run by the system's Python."""
    if os.geteuid() != 0:
        return json.loads(subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True,
                                         text=True, env={**os.environ, "PYTHONPATH": str(Path(file_safety.__file__).parent)}).stdout)
    if not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        pytest.fail("running as root, but setpriv or /usr/bin/python3 is missing to drop privileges")
    module_dir = tempfile.mkdtemp(prefix="file-safety-")
    try:
        os.chmod(module_dir, 0o755)
        shutil.copy(file_safety.__file__, module_dir)
        os.chmod(os.path.join(module_dir, "file_safety.py"), 0o644)
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                                 "-c", script, *args], check=True, capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": module_dir, "PYTHONDONTWRITEBYTECODE": "1"})
        return json.loads(result.stdout)
    finally:
        shutil.rmtree(module_dir)


def test_unreadable_files_and_folders_are_problems_not_errors():
    root = tempfile.mkdtemp(prefix="file-safety-data-")  # not under pytest's tmp_path: that is private to root
    try:
        os.chmod(root, 0o755)
        Path(root, "ok.json").write_text("{}")
        Path(root, "secret.json").write_text("{}")
        Path(root, "closed").mkdir()
        Path(root, "closed", "inside.json").write_text("{}")
        os.chmod(Path(root, "ok.json"), 0o644)
        os.chmod(Path(root, "secret.json"), 0o000)
        os.chmod(Path(root, "closed"), 0o000)
        seen = _as_unprivileged("""
import json, sys
from file_safety import FileProblem, open_regular_file, walk_regular_files
out = []
for item in walk_regular_files(sys.argv[1], {".json"}):
    if isinstance(item, FileProblem):
        out.append(["walk", item.path, item.reason])
        continue
    opened = open_regular_file(item)
    out.append(["open", item, opened.reason if isinstance(opened, FileProblem) else opened.read().decode()])
print(json.dumps(out))
""", root)
    finally:
        os.chmod(Path(root, "closed"), 0o755)
        shutil.rmtree(root)
    assert seen == [["open", os.path.join(root, "ok.json"), "{}"],
                    ["open", os.path.join(root, "secret.json"), "permission denied"],
                    ["walk", os.path.join(root, "closed"), "folder cannot be listed: permission denied"]]
