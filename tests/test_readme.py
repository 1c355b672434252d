"""The README's commands are the ones CI runs: a drift between them would let CI pass on steps users never run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def indented_commands(markdown: str, heading: str) -> list[str]:
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def ci_commands() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith(("#", "set ", "cd ", "export ", "trap ", "rm "))]


def test_ci_runs_the_readme_install_and_test_commands_in_order():
    readme = (ROOT / "README.md").read_text()
    expected = indented_commands(readme, "Install") + indented_commands(readme, "Test")
    assert ci_commands() == expected


def test_readme_names_the_default_run():
    readme = (ROOT / "README.md").read_text()
    assert "news-ingest replay seeds --out out.jsonl" in indented_commands(readme, "Run the default job")
    assert re.search(r"python -m pytest", readme)
