"""The README's first section is the way in: its commands must be the Makefile's targets and the ones CI runs."""

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sections(markdown: str) -> list[tuple[str, str]]:
    """(heading, body) of every `## ` section, in order."""
    parts = re.split(r"^## (.+)\n", markdown, flags=re.MULTILINE)[1:]
    return list(zip(parts[::2], parts[1::2]))


def indented_commands(body: str) -> list[str]:
    return [line.strip() for line in body.splitlines() if line.startswith("    ") and line.strip()]


def makefile_targets() -> dict[str, list[str]]:
    """Each target of the Makefile with its recipe lines."""
    targets: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t") and current is not None:
            targets[current].append(line.strip())
        elif match := re.match(r"^([A-Za-z][\w.-]*)\s*:(?!=)", line):
            current = match.group(1)
            targets[current] = []
        elif not line.startswith("#"):
            current = None
    return targets


def test_readme_first_section_shows_exactly_make_run_and_make_test():
    heading, body = sections((ROOT / "README.md").read_text())[0]
    assert indented_commands(body) == ["make run", "make test"], heading


def test_the_readme_commands_are_makefile_targets():
    targets = makefile_targets()
    assert {"run", "test"} <= set(targets)
    assert targets["run"] and targets["test"]


def test_make_run_is_the_readme_default_run():
    readme = dict(sections((ROOT / "README.md").read_text()))
    default_run = "news-ingest replay seeds --out out.jsonl"
    assert default_run in indented_commands(readme["Run the default job"])
    assert any(line.endswith(default_run) for line in makefile_targets()["run"])


def test_make_test_runs_the_whole_suite_after_the_services():
    targets = makefile_targets()
    test_line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("test:"))
    assert "services" in test_line.split(":", 1)[1].split()
    assert any(re.search(r"python -m pytest$", line) for line in targets["test"]), "make test runs all of tests/"
    assert "bash deploy/kafka/local-kafka.sh start" in targets["services"]
    assert "bash deploy/prism/build-prism.sh" in targets["services"]


def test_ci_installs_afresh_and_runs_make_test():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "rm -rf .venv" in lines
    assert lines.index("rm -rf .venv") < lines.index("make test")
    assert lines[-1] == "make test"


def test_a_second_make_reuses_the_venv_until_pyproject_changes(tmp_path):
    """Idempotent set-up: with the install stamp newer than pyproject.toml, nothing is installed again."""
    make = shutil.which("make")
    assert make, "make is not installed (README's first section needs it)"
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    stamp = tmp_path / ".venv" / ".installed"
    stamp.write_text("")
    os.utime(tmp_path / "pyproject.toml", (1_000_000_000, 1_000_000_000))

    def planned() -> str:
        return subprocess.run([make, "-n", "install"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    assert "pip install" not in planned()
    os.utime(tmp_path / "pyproject.toml", (4_000_000_000, 4_000_000_000))
    assert "pip install -e '.[test]'" in planned()
