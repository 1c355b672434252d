"""The deployment files, checked without a Docker engine or a cluster.

They must parse, agree with each other (ports, variable names, paths, versions), install the project
with the README's commands, and start the entry point that the venv has.
"""

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


# ---- helpers ------------------------------------------------------------------------------------------

def dockerfile_instructions(path=ROOT / "Dockerfile"):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def stages():
    """Stage name -> list of (instruction, args), FROM first."""
    result, current = {}, None
    for instruction, args in dockerfile_instructions():
        if instruction == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            current = match.group(2) or f"stage{len(result)}"
            result[current] = []
        if current is not None:
            result[current].append((instruction, args))
    return result


def stage_chain(name):
    """The instructions a stage inherits, base stages first."""
    all_stages = stages()
    chain = []
    while name in all_stages:
        chain = all_stages[name] + chain
        name = all_stages[name][0][1].split()[0]
    return chain


def dockerfile_env(chain):
    env = {}
    for instruction, args in chain:
        if instruction == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def dockerfile_args():
    result = {}
    for instruction, args in dockerfile_instructions():
        if instruction == "ARG" and "=" in args:
            key, _, value = args.partition("=")
            result[key.strip()] = value.strip()
    return result


def final_stage():
    return list(stages())[-1]


def entrypoint():
    (args,) = [a for i, a in stage_chain(final_stage()) if i == "ENTRYPOINT"]
    return json.loads(args)


def entrypoint_command():
    """The shell command of the entry point (`exec news-ingest run ...`)."""
    argv = entrypoint()
    assert "-c" in argv, argv
    return argv[argv.index("-c") + 1]


def entrypoint_options():
    return [t for t in shlex.split(entrypoint_command()) if t.startswith("--")]


def entrypoint_variables():
    return set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", entrypoint_command()))


def pip_commands(text):
    """The pip install commands of a shell text, normalized: no editable flag, no extras."""
    commands = []
    for line in re.split(r"\n|&&|;", text):
        line = line.strip()
        if re.search(r"\bpip install\b", line):
            tokens = [t for t in shlex.split(line) if t not in ("-e", "--editable")]
            tokens = [re.sub(r"^\.\[[^\]]*\]$", ".", t) for t in tokens]
            commands.append(" ".join(tokens))
    return commands


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def k8s_objects():
    objects = []
    for path in sorted(K8S.glob("*.yaml")):
        objects += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def k8s(kind):
    (obj,) = [doc for _, doc in k8s_objects() if doc.get("kind") == kind]
    return obj


def venv_script(name):
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed in the venv of {sys.executable} (pip install of the project)"
    return path


def pending_observability(reason_path=None, help_text=None):
    """Issue 7 (metrics server, Grafana, Prometheus) lands separately; until it has, say so rather than pass.

    Once its files or options exist, the calling test checks them for real.
    """
    if reason_path is not None and not reason_path.exists():
        pytest.xfail(f"{reason_path.relative_to(ROOT)} does not exist yet (issue 7)")
    if help_text is not None and "--metrics-port" not in help_text:
        pytest.xfail("`news-ingest run` has no --metrics-port yet (issue 7)")


def run_help():
    done = subprocess.run([str(venv_script("news-ingest")), "run", "--help"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---- every file parses --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*")
                                        if p.suffix in (".yaml", ".yml")))
def test_yaml_parses(path):
    docs = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*.json")))
def test_json_parses(path):
    assert isinstance(json.loads((ROOT / path).read_text()), dict)


# ---- Dockerfile ---------------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_on_slim_python_and_runs_as_non_root():
    all_stages = stages()
    assert len(all_stages) >= 2
    images = {name: instrs[0][1].split()[0] for name, instrs in all_stages.items()}
    arg_defaults = dockerfile_args()
    python_image = arg_defaults.get("PYTHON_IMAGE", "")
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", python_image), python_image
    assert images["build"] == "${PYTHON_IMAGE}"
    chain = stage_chain(final_stage())
    assert chain[0][1].split()[0] == "${PYTHON_IMAGE}", "the runtime must start from the slim base, not the build"
    users = [a for i, a in chain if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(i == "COPY" and "--from=build" in a for i, a in chain), "the runtime copies the built venv"


def test_dockerfile_installs_with_the_makefile_commands():
    # `make run` and `make test` (README, .ci/run) install with the Makefile's commands.
    makefile = (ROOT / "Makefile").read_text()
    build = " && ".join(a for i, a in stages()["build"] if i == "RUN")
    docker = pip_commands(build)
    assert docker, "the build stage installs nothing with pip"
    assert docker == pip_commands(makefile)


def test_dockerfile_copies_what_the_package_build_needs():
    copied = set()
    for instruction, args in stages()["build"]:
        if instruction == "COPY" and "--from" not in args:
            copied |= {Path(p).as_posix().rstrip("/") for p in shlex.split(args)[:-1]}
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    packages = PYPROJECT["tool"]["setuptools"]["packages"]
    if isinstance(packages, dict):  # [tool.setuptools.packages.find] include = ["pipeline*", ...]
        packages = {re.split(r"[.*]", pattern)[0] for pattern in packages["find"]["include"]}
    needed = {"pyproject.toml", *packages}
    readme = PYPROJECT["project"].get("readme")
    if isinstance(readme, str):
        needed.add(readme)
    for package, patterns in PYPROJECT["tool"]["setuptools"].get("package-data", {}).items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"package data {package}/{pattern} matches nothing"
    assert needed <= copied, f"the image build lacks {needed - copied}"
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert not (copied & ignored), f".dockerignore drops what the build copies: {copied & ignored}"
    assert {".git", ".venv"} <= ignored


def test_dockerfile_healthcheck_and_entry_point():
    chain = stage_chain(final_stage())
    (health,) = [a for i, a in chain if i == "HEALTHCHECK"]
    assert "/healthz" in health and "METRICS_PORT" in health
    env = dockerfile_env(chain)
    assert env["METRICS_PORT"].isdigit()
    assert [a for i, a in chain if i == "EXPOSE"] == [env["METRICS_PORT"]]
    command = entrypoint_command()
    assert command.startswith("exec news-ingest run ") and command.rstrip().endswith('"$@"')
    assert entrypoint()[0] == "tini", "PID 1 must forward SIGTERM and reap children"
    assert entrypoint_variables() <= set(env), "the entry point reads a variable the image does not set"
    assert f"--metrics-port \"$METRICS_PORT\"" in command


def test_entry_point_options_exist_in_news_ingest_run():
    help_text = run_help()
    pending_observability(help_text=help_text)
    missing = [o for o in entrypoint_options() if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", help_text)]
    assert not missing, f"the Dockerfile entry point passes options that `news-ingest run` lacks: {missing}"


def test_entry_point_runs_in_the_venv():
    """The image's own command line, with the image's environment, up to `news-ingest run --help`."""
    env = {**os.environ, **dockerfile_env(stage_chain(final_stage())),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    argv = entrypoint()
    shell = argv[argv.index("/bin/sh"):]
    done = subprocess.run([*shell, "--help"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "--input-topic" in done.stdout and "--group-id" in done.stdout


def test_versions_agree_with_the_pins():
    beam_pin = re.search(r"apache-beam==([\d.]+)", " ".join(PYPROJECT["project"]["dependencies"])).group(1)
    assert dockerfile_args()["BEAM_VERSION"] == beam_pin, "Prism in the image must match the Python SDK"
    flink_pom = (DEPLOY / "flink" / "pom.xml").read_text()
    assert re.search(r"<beam.version>([\d.]+)</beam.version>", flink_pom).group(1) == beam_pin
    kafka_pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([\d.]+)</kafka.version>", kafka_pom).group(1)
    for name in ("kafka", "kafka-init"):
        assert compose()["services"][name]["image"] == f"apache/kafka:{kafka_version}", \
            "compose's broker should be the version the tests run against"


# ---- compose ------------------------------------------------------------------------------------------

def test_compose_stack():
    services = compose()["services"]
    assert {"kafka", "news-ingest", "prometheus", "grafana"} <= set(services)
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller", "one-node KRaft"
    assert "ZOOKEEPER" not in json.dumps(kafka_env).upper()
    pipeline = services["news-ingest"]
    assert (DEPLOY / pipeline["build"]["context"] / pipeline["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
    assert pipeline["build"]["target"] in stages()
    image_env = dockerfile_env(stage_chain(final_stage()))
    unknown = set(pipeline["environment"]) - set(image_env)
    assert not unknown, f"compose sets variables the image does not read: {unknown}"
    port = str(pipeline["environment"]["METRICS_PORT"])
    assert f"{port}:{port}" in pipeline["ports"]
    assert pipeline["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_mounts_exist():
    """Prometheus' scrape config and Grafana's provisioning (deploy/prometheus, deploy/grafana)."""
    pending_observability(DEPLOY / "prometheus" / "prometheus.yml")
    pending_observability(DEPLOY / "grafana" / "dashboards" / "news-ingest.json")
    for name in ("prometheus", "grafana", "produce"):
        for volume in compose()["services"][name].get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"compose service {name} mounts {source}, which is missing"
    assert (DEPLOY / "grafana" / "dashboards" / "news-ingest.json").exists()


def test_prometheus_scrapes_the_pipeline_service():
    pending_observability(DEPLOY / "prometheus" / "prometheus.yml")
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    port = compose()["services"]["news-ingest"]["environment"]["METRICS_PORT"]
    targets = [t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]]
    assert f"news-ingest:{port}" in targets, f"prometheus.yml scrapes {targets}, compose serves news-ingest:{port}"
    mounted = [v.split(":")[1] for v in compose()["services"]["prometheus"]["volumes"] if v.startswith("./")]
    assert "/etc/prometheus/prometheus.yml" in mounted
    for pattern in config.get("rule_files", []):
        assert any(fnmatch.fnmatch(m, pattern) for m in mounted), f"no rule file mounted for {pattern}"


def test_grafana_provider_reads_the_mounted_dashboards():
    pending_observability(DEPLOY / "grafana" / "provisioning")
    mounts = dict(v.split(":")[:2] for v in compose()["services"]["grafana"]["volumes"] if v.startswith("./"))
    dashboards_in_container = mounts["./grafana/dashboards"]
    providers = []
    for path in (DEPLOY / "grafana" / "provisioning" / "dashboards").glob("*.y*ml"):
        providers += yaml.safe_load(path.read_text()).get("providers", [])
    assert providers, "no Grafana dashboard provider under deploy/grafana/provisioning/dashboards/"
    assert dashboards_in_container in {p["options"]["path"].rstrip("/") for p in providers}


# ---- Kubernetes ---------------------------------------------------------------------------------------

def test_k8s_manifests():
    kinds = sorted(doc["kind"] for _, doc in k8s_objects() if doc.get("kind") != "Kustomization")
    assert kinds == ["ConfigMap", "Deployment", "Service"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(n for n, d in k8s_objects() if d["kind"] != "Kustomization")

    deployment, service, config = k8s("Deployment"), k8s("Service"), k8s("ConfigMap")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert str(ports["metrics"]) == config["data"]["METRICS_PORT"] == dockerfile_env(stage_chain(final_stage()))["METRICS_PORT"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports) | set(ports.values())
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert {e["configMapRef"]["name"] for e in container["envFrom"]} == {config["metadata"]["name"]}
    unknown = set(config["data"]) - set(dockerfile_env(stage_chain(final_stage())))
    assert not unknown, f"the ConfigMap sets variables the image does not read: {unknown}"
    # One job per consumer group: the source assigns every partition itself (deploy/k8s/README.md).
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
