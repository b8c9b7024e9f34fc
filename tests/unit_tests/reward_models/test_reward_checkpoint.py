"""Assembling the default reward checkpoint: a score head and low-rank updates merged in."""

from pathlib import Path

import numpy as np
import pytest

from langchain_tpo.reward_models.default import build_reward_checkpoint

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

UPDATED = "model.layers.1.mlp.down_proj.weight"


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    config = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    directory = tmp_path / "base"
    model.save_pretrained(directory)
    return directory


def head_file(tmp_path: Path, with_update: bool) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    tensors = {"score.weight": rng.normal(size=(1, 16)).astype(np.float32)}
    if with_update:
        tensors[f"lora_a.{UPDATED}"] = rng.normal(size=(4, 32)).astype(np.float32)
        tensors[f"lora_b.{UPDATED}"] = rng.normal(size=(16, 4)).astype(np.float32)
    path = tmp_path / f"head-{with_update}.safetensors"
    safetensors_numpy.save_file(tensors, str(path), metadata={"lora_scale": "0.5"})
    return path, tensors


def load(directory: Path) -> dict[str, np.ndarray]:
    model = transformers.AutoModelForSequenceClassification.from_pretrained(directory)
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("with_update", [False, True])
def test_head_and_updates_reach_the_loaded_classifier(
    tmp_path: Path, base_dir: Path, with_update: bool
) -> None:
    path, tensors = head_file(tmp_path, with_update)
    target = build_reward_checkpoint(base_dir, path, tmp_path / "reward")
    loaded = load(target)
    base = {k: v.detach().numpy() for k, v in transformers.AutoModel.from_pretrained(
        base_dir).state_dict().items()}  # fmt: skip
    np.testing.assert_allclose(loaded["score.weight"], tensors["score.weight"])
    expected = base[UPDATED.removeprefix("model.")]
    if with_update:
        a, b = tensors[f"lora_a.{UPDATED}"], tensors[f"lora_b.{UPDATED}"]
        expected = expected + 0.5 * b @ a
    np.testing.assert_allclose(loaded[UPDATED], expected, rtol=1e-5, atol=1e-5)
    untouched = "model.layers.0.mlp.down_proj.weight"
    np.testing.assert_array_equal(loaded[untouched], base[untouched.removeprefix("model.")])
    assert not any(k.startswith("lora_") for k in loaded)


def test_an_update_of_a_missing_weight_is_refused(tmp_path: Path, base_dir: Path) -> None:
    path = tmp_path / "bad.safetensors"
    safetensors_numpy.save_file(
        {
            "score.weight": np.zeros((1, 16), np.float32),
            "lora_a.model.layers.9.mlp.down_proj.weight": np.zeros((4, 32), np.float32),
            "lora_b.model.layers.9.mlp.down_proj.weight": np.zeros((16, 4), np.float32),
        },
        str(path),
    )
    with pytest.raises(ValueError, match=r"model\.layers\.9\.mlp\.down_proj\.weight"):
        build_reward_checkpoint(base_dir, path, tmp_path / "reward")
    assert not (tmp_path / "reward").exists()
