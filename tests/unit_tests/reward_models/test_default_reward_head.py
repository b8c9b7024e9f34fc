"""The shipped default reward head: small, documented, licensed, and measured against its bars."""

import hashlib
import json
from pathlib import Path

import pytest

from langchain_tpo.reward_models.default import HEAD_FILE, INFO_FILE, default_reward_info

REPO = Path(__file__).resolve().parents[3]
LABELS = ["helpfulness", "harmlessness", "harmful_request"]


def _check(info: dict, name: str) -> dict:
    matches = [c for c in info["held_out_checks"] if c["check"] == name]
    assert len(matches) == 1, name
    return matches[0]


def test_head_is_a_small_file_with_its_provenance() -> None:
    assert HEAD_FILE.is_file() and INFO_FILE.is_file()
    assert HEAD_FILE.stat().st_size < 100_000  # three score rows, not a model
    info = default_reward_info()
    for key in ("labels", "combination", "sources", "measured_with", "licensing",
                "held_out_checks", "never_trained_families", "training_data", "max_length",
                "command", "evaluate_command"):  # fmt: skip
        assert key in info, key
    assert info["labels"] == LABELS


def test_head_is_three_score_rows_declaring_how_they_combine() -> None:
    safetensors = pytest.importorskip("safetensors")
    with safetensors.safe_open(str(HEAD_FILE), "np") as f:
        assert list(f.keys()) == ["score.weight"]  # no update of the base model's weights
        weight = f.get_tensor("score.weight")
        metadata = f.metadata()
    assert weight.shape == (3, 576)  # SmolLM2-135M's hidden size
    assert str(weight.dtype) == "float32"
    assert json.loads(metadata["labels"]) == LABELS
    rule = json.loads(metadata["combination"])
    assert rule == default_reward_info()["combination"]
    assert rule["gate"] == "harmful_request"
    assert rule["weights"] == {"helpfulness": 1.0}
    assert rule["gated_weights"] == {"harmlessness": 1.0}


def test_every_training_source_has_a_licence_and_a_hash_and_none_is_non_commercial() -> None:
    info = default_reward_info()
    for source in info["sources"]:
        assert source["license"], source["name"]
        assert "NC" not in source["license"], source["name"]
        if "files" in source:  # a repository: each file's commit and git blob
            assert all(f["commit"] and f["blob"] for f in source["files"]), source["name"]
        else:
            assert len(source["sha256"]) == 64, source["name"]
        own = REPO / source.get("path", "")
        if source.get("path", "").startswith("scripts/"):
            assert hashlib.sha256(own.read_bytes()).hexdigest() == source["sha256"], own
    measured = " ".join(s["license"] for s in info["measured_with"])
    assert "CC BY-NC 4.0" in measured and "measured only" in measured


def test_families_never_trained_on_were_never_trained_on() -> None:
    info = default_reward_info()
    assert set(info["never_trained_families"]) == {"clarify", "plan"}
    trained = info["training_data"]["helpfulness_pairs_by_kind"]
    assert not set(info["never_trained_families"]) & set(trained)


def test_recorded_figures_meet_the_bars_of_issue_22() -> None:
    # The figures the training run measured on data never trained on; a worse retraining
    # fails here. Bars: every non-answer family 0.90, relevance 0.85, AlpacaEval 0.60, HH 0.60.
    info = default_reward_info()
    checks = info["held_out_checks"]
    families = [c for c in checks if c["check"].startswith("everyday: answer > ")]
    assert len(families) == 10
    for check in families:
        assert check["pairs"] >= 100
        assert check["share"] >= check["bar"], check
    never = [c for c in families if c["note"] == "never trained"]
    assert len(never) == 2
    assert _check(info, "AlpacaEval: the judge's choice scores higher")["share"] >= 0.60
    assert _check(info, "HH-RLHF harmless held-out: chosen > rejected")["share"] >= 0.60
    assert _check(info, "HH held-out rows: answer > a fixed review sentence")["share"] >= 0.95
    policy = "policy's own sample > its own scaffolded rewrite (benchmark runs)"
    assert _check(info, policy)["share"] >= 0.85


def test_unknown_backend_is_an_error() -> None:
    from langchain_tpo.reward_models import load_default_reward

    with pytest.raises(ValueError, match="Unknown backend 'onnx'"):
        load_default_reward(backend="onnx")  # type: ignore[arg-type]


@pytest.mark.parametrize("weight", [-0.1, float("nan")])
def test_a_relevance_weight_below_zero_or_not_a_number_is_refused(weight: float) -> None:
    from langchain_tpo.reward_models import load_default_reward

    with pytest.raises(ValueError, match="relevance_weight must be a finite number >= 0"):
        load_default_reward(relevance_weight=weight)


@pytest.mark.parametrize("weight", [-1.0, float("inf")])
def test_a_similarity_weight_below_zero_or_not_finite_is_refused(weight: float) -> None:
    from langchain_tpo.reward_models import load_default_reward

    with pytest.raises(ValueError, match="similarity_weight must be a finite number >= 0"):
        load_default_reward(similarity_weight=weight)


def test_the_shipped_relevance_part_is_recorded_with_how_its_weight_was_chosen() -> None:
    relevance = default_reward_info()["relevance"]
    assert relevance["weight"] > 0
    assert relevance["neutral_request"] and relevance["max_response_tokens"] >= 64
    assert "everyday" in relevance["weight_chosen_on"]


def test_the_trainer_writes_the_relevance_part_that_ships() -> None:
    # A retraining rewrites the provenance: it must keep the second component as it is.
    from scripts.train_default_reward import RELEVANCE_PART

    assert default_reward_info()["relevance"] == RELEVANCE_PART


def test_the_shipped_similarity_part_is_recorded_and_kept_by_the_trainer() -> None:
    from scripts.train_default_reward import SIMILARITY_PART

    similarity = default_reward_info()["similarity"]
    assert similarity == SIMILARITY_PART
    assert similarity["weight"] > 0 and -1 < similarity["ceiling"] < 1
    assert "MIT" in similarity["component"] and "Apache-2.0" in similarity["component"]
    assert "misread" in similarity["weight_chosen_on"]


def test_the_shipped_rewards_measured_figures_meet_the_bars_of_issue_22() -> None:
    # Measured end to end (`train_default_reward.py --evaluate-only --json-out`), with the
    # weights it records: a change of a weight or of the head must be measured again.
    figures = Path(__file__).parents[3] / "benchmarks" / "quality" / "default_reward_held_out.json"
    records = json.loads(figures.read_text())
    [measured] = [c for c in records if c["check"] == "measured with"]
    info = default_reward_info()
    assert measured["relevance"] == info["relevance"]["weight"]
    assert measured["similarity"] == info["similarity"]["weight"]
    assert measured["similarity_ceiling"] == info["similarity"]["ceiling"]
    checks = {c["check"]: c for c in records if "pairs" in c}
    families = [c for name, c in checks.items() if name.startswith("everyday: answer > ")]
    misread = checks.pop("everyday: answer > a neighbouring question's answer (misread)")
    assert misread["bar"] is None and misread["pairs"] == 120  # reported, written after the bars
    assert len(families) == 11
    assert all(c["share"] >= 0.90 for c in families if c is not misread)
    assert checks["everyday: answer > another question's answer (relevance)"]["share"] >= 0.85
    assert checks["AlpacaEval: the judge's choice scores higher"]["share"] >= 0.60
    assert checks["HH-RLHF harmless held-out: chosen > rejected"]["share"] >= 0.60
