"""The pure/Beam boundary: every module under transforms/ imports without Beam, except the few that hold
a stage's DoFns and PTransform (listed here, so that a new module is pure unless it says otherwise)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The Beam side of each stage: DoFns, PTransforms, the sources and sinks Beam drives.
BEAM_MODULES = {
    "transforms.files",
    "transforms.sinks",
    "transforms.parse.transform",
    "transforms.dedup.transform",
    "transforms.nlp.transform",
    "transforms.kafka.source",
    "transforms.kafka.sink",
}
# pipeline/ modules that must not need Beam: the CLI parses its arguments and checks them before Beam loads.
PURE_PIPELINE_MODULES = {"pipeline.options", "pipeline.args", "pipeline.config", "pipeline.cli"}

_BLOCK_BEAM = """
import importlib, importlib.abc, sys
class _NoBeam(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "apache_beam" or name.startswith("apache_beam."):
            raise ImportError("Beam is unimportable in this test: " + name)
        return None
sys.meta_path.insert(0, _NoBeam())
failed = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError as err:
        failed.append(f"{name}: {err}")
assert not any(m == "apache_beam" or m.startswith("apache_beam.") for m in sys.modules)
print("\\n".join(failed))
"""


def _transforms_modules() -> list[str]:
    import transforms

    return sorted(info.name for info in pkgutil.walk_packages(transforms.__path__, "transforms."))


def test_the_listed_beam_modules_exist():
    assert BEAM_MODULES <= set(_transforms_modules())


def test_every_pure_module_imports_with_beam_unimportable():
    pure = [name for name in _transforms_modules() if name not in BEAM_MODULES] + sorted(PURE_PIPELINE_MODULES)
    assert len(pure) > 20
    done = subprocess.run([sys.executable, "-c", _BLOCK_BEAM, *pure], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_blocker_does_catch_a_beam_import():
    done = subprocess.run([sys.executable, "-c", _BLOCK_BEAM, *sorted(BEAM_MODULES)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert sorted(line.split(":")[0] for line in done.stdout.split("\n") if line) == sorted(BEAM_MODULES)
