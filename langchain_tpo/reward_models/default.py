"""The embedded default reward model: helpfulness, relevance and harmlessness on SmolLM2-135M,
and question-answer similarity on all-MiniLM-L6-v2.

Three components, from the embedded models (`langchain_tpo.bundled`); nothing is downloaded:

- `classifier`: the package ships only a score layer (three rows, a few kilobytes, in `data/`).
  At first use it is combined with the base weights into an ordinary
  `LlamaForSequenceClassification` checkpoint in the user cache, so transformers and vLLM load
  the very same directory. Its labels are `helpfulness` (real answers over non-answers and over
  other questions' answers), `harmlessness` (HH-RLHF harmless-base) and `harmful_request` (a
  gate: does the conversation ask for something harmful?); the checkpoint declares how they
  combine (`reward_combination`).
- `relevance`: `RelevanceReward` on the base causal LM, how much the request rather than any
  request explains the response. It needs no weights of its own; it catches what the classifier
  misses in a small policy's own output, fluent text that would fit any question.
- `similarity`: `SimilarityReward` on all-MiniLM-L6-v2, a sentence-embedding model trained on
  question-answer pairs: is the response an answer to *this* question, or to a neighbouring
  one the policy misread it as? (The 135M base model misreads the same way, so neither of the
  other parts can tell.)

The reward is `classifier.helpfulness + w_r * relevance + w_s * similarity` on ordinary requests
and `classifier.harmlessness` when the gate says the request is risky (`CombinedReward`); every
part's raw score is kept in the reward's components. `scripts/train_default_reward.py` fitted
the classifier; the provenance, licences, the weights and held-out figures are in
`data/default_reward_head.json`. It is a weak reward model (135M and 22M models), meant for
trying TPO offline, not for real alignment.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from langchain_tpo.reward_models._checkpoint import DECLARED_COMBINATION
from langchain_tpo.reward_models.base import RewardModel
from langchain_tpo.reward_models.combination import Combination
from langchain_tpo.reward_models.combined import CombinedReward
from langchain_tpo.reward_models.relevance import NEUTRAL_REQUEST

__all__ = [
    "build_reward_checkpoint",
    "default_reward_dir",
    "default_reward_info",
    "load_default_reward",
]

_DATA = Path(__file__).parent / "data"
HEAD_FILE = _DATA / "default_reward_head.safetensors"
INFO_FILE = _DATA / "default_reward_head.json"
_MARKER_FILE = "langchain_tpo.json"
CLASSIFIER = "classifier"
"""The component name of the three-label head in the default reward."""
RELEVANCE = "relevance"
"""The component name of the relevance reader in the default reward."""
SIMILARITY = "similarity"
"""The component name of the question-answer similarity in the default reward."""
# Bump when the assembled directory's layout changes, so stale directories are not reused.
_FORMAT_VERSION = 3
_BODY_FILE = "model-00001-of-00002.safetensors"
_HEAD_SHARD = "model-00002-of-00002.safetensors"
_VLLM_KV_CACHE_BYTES = 1 << 30
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
)


def default_reward_info() -> dict[str, Any]:
    """The shipped head's provenance: training data, split, held-out accuracy, commands."""
    return dict(json.loads(INFO_FILE.read_text(encoding="utf-8")))


def load_default_reward(
    backend: Literal["transformers", "vllm"] = "transformers",
    *,
    relevance_weight: float | None = None,
    similarity_weight: float | None = None,
    **kwargs: Any,
) -> RewardModel:
    """Load the embedded default reward model; works offline on the CPU.

    Three components: the `classifier` (the three-label head on SmolLM2-135M, run by the
    chosen backend), `relevance` (`RelevanceReward` on the same base model, with transformers:
    how much the request, rather than any request, explains the response) and `similarity`
    (`SimilarityReward` on all-MiniLM-L6-v2: does the response answer this question rather
    than a neighbouring one; a penalty, `min(cosine - ceiling, 0)`). On ordinary requests the
    reward is `classifier.helpfulness + relevance_weight * relevance + similarity_weight *
    similarity`; when the classifier's gate says the request is harmful,
    `classifier.harmlessness` decides.

    Args:
        backend: `"transformers"` (`HuggingFaceRewardModel`) or `"vllm"` (`VLLMRewardModel`)
            for the classifier.
        relevance_weight: Weight of the relevance part; by default the shipped one
            (`default_reward_info()["relevance"]["weight"]`). 0 leaves the relevance model out.
        similarity_weight: Weight of the similarity part; by default the shipped one
            (`default_reward_info()["similarity"]["weight"]`). 0 leaves the embedding model
            out. With both weights 0 the reward is the classifier alone, as its checkpoint
            declares.
        **kwargs: Passed to the classifier backend's `from_model_id` (for example
            `batch_size=16`, or vLLM engine arguments such as `gpu_memory_utilization=0.3`).
            `max_length` defaults to the length the head was trained with; vLLM's `dtype` to
            float32 and its KV cache to 1 GiB (unless `gpu_memory_utilization` is given).

    Returns:
        A reward model giving raw rewards (higher is better; only differences between scores
        are meaningful), with every part's raw score in `Reward.components`. Call `close()` on
        it to stop a vLLM engine.

    Raises:
        ImportError: The backend, the default-models extra or the embedded weights are not
            installed.
        ValueError: An unknown backend, or a negative or non-finite weight.
    """
    info = default_reward_info()
    relevance, similarity = info.get("relevance", {}), info.get("similarity", {})
    weights = {
        RELEVANCE: _weight("relevance_weight", relevance_weight, relevance),
        SIMILARITY: _weight("similarity_weight", similarity_weight, similarity),
    }
    if backend not in ("transformers", "vllm"):
        msg = f"Unknown backend {backend!r}; use 'transformers' or 'vllm'."
        raise ValueError(msg)
    kwargs.setdefault("max_length", int(info.get("max_length", 512)))
    classifier = _load_classifier(backend, kwargs)
    if not any(weights.values()):
        return classifier
    from langchain_tpo.bundled import default_model_dir, similarity_model_dir
    from langchain_tpo.reward_models.relevance import RelevanceReward
    from langchain_tpo.reward_models.similarity import SimilarityReward

    components: dict[str, RewardModel] = {CLASSIFIER: classifier}
    try:
        if weights[RELEVANCE]:
            components[RELEVANCE] = RelevanceReward.from_model_id(
                default_model_dir(),
                device="cpu",
                neutral_request=str(relevance.get("neutral_request", NEUTRAL_REQUEST)),
                max_response_tokens=int(relevance.get("max_response_tokens", 128)),
            )
        if weights[SIMILARITY]:
            ceiling = similarity.get("ceiling")
            components[SIMILARITY] = SimilarityReward.from_model_id(
                similarity_model_dir(),
                device="cpu",
                ceiling=None if ceiling is None else float(ceiling),
            )
    except BaseException:
        _close(classifier)
        raise
    rule = Combination.model_validate(info["combination"])
    return CombinedReward(
        components=components,
        weights={
            **{f"{CLASSIFIER}.{part}": w for part, w in rule.weights.items()},
            **{name: w for name, w in weights.items() if w},
        },
        gate=None if rule.gate is None else f"{CLASSIFIER}.{rule.gate}",
        gate_bias=rule.gate_bias,
        gated_weights={f"{CLASSIFIER}.{part}": w for part, w in rule.gated_weights.items()},
        name="default reward",
    )


def _weight(argument: str, given: float | None, shipped: dict[str, Any]) -> float:
    """`given`, or the shipped weight of that part; a ValueError when it is not >= 0."""
    weight = float(shipped.get("weight", 0.0)) if given is None else given
    if not math.isfinite(weight) or weight < 0:
        msg = f"{argument} must be a finite number >= 0, not {given!r}."
        raise ValueError(msg)
    return weight


def _load_classifier(backend: str, kwargs: dict[str, Any]) -> RewardModel:
    if backend == "transformers":
        from langchain_tpo.reward_models.huggingface import HuggingFaceRewardModel

        return HuggingFaceRewardModel.from_model_id(default_reward_dir(), **kwargs)
    from langchain_tpo.reward_models.vllm import VLLMRewardModel

    kwargs.setdefault("dtype", "float32")  # the weights' own dtype; the model is tiny
    if "gpu_memory_utilization" not in kwargs:
        # A fixed KV cache, not a share of the device: this model needs little.
        kwargs.setdefault("kv_cache_memory_bytes", _VLLM_KV_CACHE_BYTES)
    return VLLMRewardModel.from_model_id(default_reward_dir(), **kwargs)


def _close(model: RewardModel) -> None:
    close: Any = getattr(model, "close", None)
    if callable(close):
        close()


def default_reward_dir() -> Path:
    """The default reward checkpoint directory, assembled on first use.

    Returns:
        A directory loadable by `AutoModelForSequenceClassification` and by vLLM's pooling
        runner, under `langchain_tpo.bundled.cache_dir()`.

    Raises:
        ImportError: The default policy (extra `default-models`) or its conversion
            dependencies are missing.
    """
    from langchain_tpo.bundled import cache_dir, default_model_dir

    base = default_model_dir()
    digest = hashlib.sha256(HEAD_FILE.read_bytes()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{base.name}-reward-{digest}-v{_FORMAT_VERSION}"
    if not (target / _MARKER_FILE).is_file():
        build_reward_checkpoint(base, HEAD_FILE, target)
    return target


def build_reward_checkpoint(base_dir: Path, head_file: Path, target: Path) -> Path:
    """Combine a causal LM directory and a score head into a sequence-classifier checkpoint.

    The base weights are hard-linked when possible (copied otherwise) and the head goes in a
    second safetensors file, joined by a `model.safetensors.index.json`. The directory is
    written under a file lock into a temporary sibling and renamed into place, so concurrent
    processes build it once and nobody sees it half-written.

    Args:
        base_dir: A Llama-family causal LM directory with one `model.safetensors`.
        head_file: A safetensors file with `score.weight` of shape `[labels, hidden_size]`
            (metadata `labels`, a JSON list, names the rows, and `combination`, a JSON
            `Combination`, becomes the checkpoint's declared `reward_combination`) and,
            optionally, low-rank updates of some base weights:
            `lora_a.<name>` `[r, in]` and `lora_b.<name>` `[out, r]` for base weight `<name>`,
            merged as `W + lora_scale * B @ A` (`lora_scale` in the file's metadata).
        target: The directory to create; left alone when it is already complete.

    Returns:
        `target`.
    """
    from filelock import FileLock  # a dependency of huggingface_hub, hence of transformers
    from safetensors import safe_open
    from safetensors.numpy import save_file as save_numpy

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _MARKER_FILE).is_file():
            return target
        if target.exists():  # left over without its marker by a crash
            shutil.rmtree(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            # Shard names, not model.safetensors: loaders read a lone model.safetensors and
            # would never look at the index, hence at the head.
            score, updates, scale, labels, rule = _read_head_file(head_file)
            if updates:
                _merge_updates(base_dir / "model.safetensors", updates, scale, tmp / _BODY_FILE)
            else:
                _link_or_copy(base_dir / "model.safetensors", tmp / _BODY_FILE)
            save_numpy({"score.weight": score}, str(tmp / _HEAD_SHARD))
            weight_map: dict[str, str] = {}
            for shard in (_BODY_FILE, _HEAD_SHARD):
                with safe_open(str(tmp / shard), "np") as f:
                    names = [k for k in f.keys() if k != "lm_head.weight"]  # noqa: SIM118
                weight_map.update(dict.fromkeys(names, shard))
            _write_json(
                tmp / "model.safetensors.index.json", {"metadata": {}, "weight_map": weight_map}
            )
            for name in _TOKENIZER_FILES:
                if (base_dir / name).is_file():
                    shutil.copyfile(base_dir / name, tmp / name)
            config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
            names = labels or ["reward"]
            if len(names) != score.shape[0]:
                msg = f"{head_file}: {score.shape[0]} score rows but labels {names}."
                raise ValueError(msg)
            config.update(
                architectures=["LlamaForSequenceClassification"],
                num_labels=len(names),
                id2label={str(i): name for i, name in enumerate(names)},
                label2id={name: i for i, name in enumerate(names)},
                tie_word_embeddings=False,  # no output embedding in a classifier
            )
            if rule is not None:
                config[DECLARED_COMBINATION] = rule
            _write_json(tmp / "config.json", config)
            _write_json(
                tmp / _MARKER_FILE,
                {"base": str(base_dir), "head": str(head_file), "format_version": _FORMAT_VERSION},
            )
            tmp.chmod(target.parent.stat().st_mode & 0o777)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _read_head_file(
    head_file: Path,
) -> tuple[Any, dict[str, tuple[Any, Any]], float, list[str], dict[str, Any] | None]:
    """The score rows, the (A, B) pairs by base weight name, their scale, the labels and the
    combination the checkpoint declares.

    Metadata `labels` (a JSON list) names the score rows in order; `combination` (a JSON
    `Combination`) says how to read them. A one-row head may have neither.
    """
    from safetensors import safe_open

    with safe_open(str(head_file), "np") as f:
        names = [k.removeprefix("lora_a.") for k in f.keys() if k.startswith("lora_a.")]  # noqa: SIM118
        updates = {n: (f.get_tensor(f"lora_a.{n}"), f.get_tensor(f"lora_b.{n}")) for n in names}
        metadata = f.metadata() or {}
        scale = float(metadata.get("lora_scale", "1.0"))
        labels = [str(label) for label in json.loads(metadata.get("labels", "[]"))]
        rule = None
        if "combination" in metadata:
            rule = Combination.model_validate_json(metadata["combination"]).model_dump()
        return f.get_tensor("score.weight"), updates, scale, labels, rule


def _merge_updates(
    base_file: Path, updates: dict[str, tuple[Any, Any]], scale: float, dest: Path
) -> None:
    """Write the base weights with `W + scale * B @ A` for each updated weight."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(base_file))
    for name, (a, b) in updates.items():
        if name not in tensors:
            msg = f"The reward head updates {name}, which the base model does not have."
            raise ValueError(msg)
        weight = tensors[name]
        delta = torch.from_numpy(b) @ torch.from_numpy(a) * scale
        tensors[name] = (weight.float() + delta).to(weight.dtype).contiguous()
    save_file(tensors, str(dest), metadata={"format": "pt"})


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(source, dest)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
