"""The TPO loop as a LangGraph graph: node calls, chosen/rejected, modes, stop rules."""

from __future__ import annotations

import re

from langchain_core.messages import BaseMessage

from langchain_tpo import TPOChain, TPOConfig, TPOPrompts, create_tpo_graph
from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START
from langchain_tpo.prompts import MARKER_REWRITE_PROMPT
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN, stage_of


def test_graph_has_the_tpo_nodes(policy: ScriptedChatModel, length_reward: FunctionReward) -> None:
    graph = create_tpo_graph(policy, length_reward)
    nodes = set(graph.get_graph().nodes)
    assert {"sample", "score", "critique", "suggest", "rewrite"} <= nodes


def test_done_when_n3_d2_returns_longest_of_nine(
    policy: ScriptedChatModel, length_reward: FunctionReward
) -> None:
    chain = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=3, max_iterations=2)
    )
    result = chain.invoke("How do I keep basil alive?")

    assert len(result.candidates) == 9
    assert len(result.history) == 2
    longest = max(result.candidates, key=lambda c: len(c.text))
    assert result.response == longest.text
    assert result.score == float(len(longest.text))

    first_six = result.candidates[:6]
    best = max(first_six, key=lambda c: c.score)
    worst = min(first_six, key=lambda c: c.score)
    critique_prompts = policy.requests_for("critique")
    assert len(critique_prompts) == 2
    second = critique_prompts[1].messages[-1].text
    assert best.text in second
    assert worst.text in second
    assert result.history[1].chosen.text == best.text
    assert result.history[1].rejected is not None
    assert result.history[1].rejected.text == worst.text


def test_call_counts_per_node_fan_out(
    policy: ScriptedChatModel, length_reward: FunctionReward
) -> None:
    chain = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=4, max_iterations=3)
    )
    result = chain.invoke("q")
    counts = {s: len(policy.requests_for(s)) for s in ("sample", "critique", "suggest", "rewrite")}
    assert counts == {"sample": 4, "critique": 3, "suggest": 3, "rewrite": 12}
    assert result.model_calls == 22
    assert [c.iteration for c in result.candidates] == [-1] * 4 + [0] * 4 + [1] * 4 + [2] * 4


def test_native_n_sampling_uses_one_request_per_stage(
    policy_with_n: ScriptedChatModelWithN, length_reward: FunctionReward
) -> None:
    chain = TPOChain(
        policy=policy_with_n,
        reward=length_reward,
        config=TPOConfig(num_samples=4, max_iterations=2),
    )
    result = chain.invoke("q")
    samples = policy_with_n.requests_for("sample")
    rewrites = policy_with_n.requests_for("rewrite")
    assert [r.samples for r in samples] == [4]
    assert [r.samples for r in rewrites] == [4, 4]
    assert result.model_calls == 1 + 2 * 3
    assert len(result.candidates) == 12


def test_the_loop_hands_the_policy_no_third_party_to_talk_about(
    length_reward: FunctionReward,
) -> None:
    # A small policy copies the nouns of its prompt: asked about "the user" and shown "your
    # draft" and "the reviewer's suggestions", the 135M default wrote about them (issue 10).
    policy = ScriptedChatModel()
    for mode in ("tpo", "revision"):
        chain = TPOChain(
            policy=policy,
            reward=length_reward,
            config=TPOConfig(mode=mode, num_samples=2, max_iterations=1),
        )
        chain.invoke("How do I fix a flat tyre?")
    requests = [r for r in policy.requests if r.stage != "sample"]
    assert {r.stage for r in requests} == {"critique", "suggest", "rewrite"}
    for request in requests:
        for message in request.messages:
            assert not re.search(r"\buser\b", message.text, re.IGNORECASE), message.text
    for rewrite in policy.requests_for("rewrite"):
        system = rewrite.messages[0].text.lower()
        assert not re.search(r"\b(draft|reviewer|suggestions?|instructions?)\b", system)


def test_critique_prompt_carries_query_chosen_rejected(length_reward: FunctionReward) -> None:
    policy = ScriptedChatModel()
    chain = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=3, max_iterations=1)
    )
    result = chain.invoke("a very particular question")
    (critique,) = policy.requests_for("critique")
    text = critique.messages[-1].text
    record = result.history[0]
    assert "a very particular question" in text
    assert record.chosen.text in text
    assert record.rejected is not None and record.rejected.text in text

    (suggest,) = policy.requests_for("suggest")
    assert record.critique in suggest.messages[-1].text
    for rewrite in policy.requests_for("rewrite"):
        system = rewrite.messages[0].text
        assert record.suggestion in system
        assert record.chosen.text in system
        assert rewrite.messages[-1].text == "a very particular question"


def test_chosen_and_rejected_span_the_whole_cache(length_reward: FunctionReward) -> None:
    """The worst response of iteration 0 stays the rejected one when rewrites are all better."""

    def responder(messages: list[BaseMessage], index: int) -> str:
        stage = stage_of(messages)
        if stage == "sample":
            return ["mid length answer", "x", "a somewhat longer answer"][index % 3]
        if stage == "rewrite":
            return f"{RESPONSE_START}rewrite {index} " + "y" * (30 + index) + RESPONSE_END
        return f"{stage} text {index}"

    policy = ScriptedChatModel(responder=responder)
    chain = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=3, max_iterations=3)
    )
    result = chain.invoke("q")
    for record in result.history:
        assert record.rejected is not None
        assert record.rejected.text == "x"
        cache = [c for c in result.candidates if c.iteration < record.iteration]
        assert record.chosen.score == max(c.score for c in cache)


def test_revision_mode_never_shows_the_rejected(length_reward: FunctionReward) -> None:
    policy = ScriptedChatModel()
    chain = TPOChain(
        policy=policy,
        reward=length_reward,
        config=TPOConfig(num_samples=3, max_iterations=2, mode="revision"),
    )
    result = chain.invoke("q")
    initial = [c for c in result.candidates if c.iteration == -1]
    worst = min(initial, key=lambda c: c.score)
    critiques = policy.requests_for("critique")
    assert len(critiques) == 2
    for request in critiques:
        text = request.messages[-1].text
        assert "Here is an answer to review" in text
        assert worst.text not in text
    assert all(record.rejected is None for record in result.history)


def test_revision_mode_with_one_sample(length_reward: FunctionReward) -> None:
    policy = ScriptedChatModel()
    chain = TPOChain(
        policy=policy,
        reward=length_reward,
        config=TPOConfig(num_samples=1, max_iterations=2, mode="revision"),
    )
    result = chain.invoke("q")
    assert len(result.candidates) == 3
    assert len(result.history) == 2


def test_bon_makes_no_critique_call(
    policy: ScriptedChatModel, length_reward: FunctionReward
) -> None:
    chain = TPOChain(
        policy=policy,
        reward=length_reward,
        config=TPOConfig(num_samples=6, max_iterations=2, mode="bon"),
    )
    result = chain.invoke("q")
    assert len(policy.requests) == 6
    assert {r.stage for r in policy.requests} == {"sample"}
    assert result.history == []
    assert result.stop_reason == "bon"
    assert result.response == max(result.candidates, key=lambda c: c.score).text


def test_answer_is_the_best_candidate_even_if_early() -> None:
    """When rewrites are worse, the best initial sample is still the answer."""

    def responder(messages: list[BaseMessage], index: int) -> str:
        stage = stage_of(messages)
        if stage == "sample":
            return f"initial sample number {index} " + "z" * index
        if stage == "rewrite":
            return f"{RESPONSE_START}r{index}{RESPONSE_END}"
        return stage

    policy = ScriptedChatModel(responder=responder)
    reward = FunctionReward(lambda q, r: float(len(r)))
    result = TPOChain(
        policy=policy, reward=reward, config=TPOConfig(num_samples=3, max_iterations=2)
    ).invoke("q")
    assert result.response == "initial sample number 2 zz"
    assert result.best_scores == [result.score] * 3


def test_marker_less_rewrites_are_kept_whole_and_counted(length_reward: FunctionReward) -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        stage = stage_of(messages)
        if stage == "rewrite":
            return f"   plain rewrite {index} with no markers   " if index % 2 else "   "
        return f"{stage} {index}"

    policy = ScriptedChatModel(responder=responder)
    result = TPOChain(
        policy=policy,
        reward=length_reward,
        config=TPOConfig(num_samples=4, max_iterations=1),
        prompts=TPOPrompts(rewrite=MARKER_REWRITE_PROMPT),
    ).invoke("q")
    rewrites = [c for c in result.candidates if c.iteration == 0]
    assert rewrites
    assert all(c.text.startswith("plain rewrite") and c.text.endswith("markers") for c in rewrites)
    assert result.history[0].marker_misses == len(rewrites)
    assert result.marker_misses == len(rewrites)
    assert result.empty_outputs == 4 - len(rewrites)
    assert result.history[0].empty_outputs == 4 - len(rewrites)


def test_round_with_nothing_usable_keeps_the_cache(length_reward: FunctionReward) -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        stage = stage_of(messages)
        if stage == "rewrite":
            return f"{RESPONSE_START}  {RESPONSE_END}"
        return f"{stage} {index}"

    policy = ScriptedChatModel(responder=responder)
    result = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=2, max_iterations=2)
    ).invoke("q")
    assert len(result.candidates) == 2
    assert result.response in {"sample 0", "sample 1"}
    assert result.empty_outputs == 4
    assert any("no usable rewrite" in w for w in result.warnings)
    assert len(result.history) == 2


def test_rewrites_that_replay_the_prompt_are_cut_and_counted(
    length_reward: FunctionReward,
) -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        stage = stage_of(messages)
        if stage == "rewrite":
            answer = f"rewrite {index}\n" if index % 2 else "Here is my improved answer:\n"
            return answer + "\nA user asked:\nq\n\nSuggested improvements:\n" + "x" * 200
        return f"{stage} {index}"

    policy = ScriptedChatModel(responder=responder)
    result = TPOChain(
        policy=policy,
        reward=length_reward,
        config=TPOConfig(num_samples=4, max_iterations=1),
        prompts=TPOPrompts(rewrite=MARKER_REWRITE_PROMPT),
    ).invoke("q")
    rewrites = [c.text for c in result.candidates if c.iteration == 0]
    assert len(rewrites) == 2
    assert all(re.fullmatch(r"rewrite \d+", text) for text in rewrites)
    assert result.prompt_echoes == result.history[0].prompt_echoes == 4
    assert result.empty_outputs == 2  # the two that were nothing but a lead-in and the echo
    assert "x" * 200 not in result.response


def test_talk_about_the_rewrite_is_cut_from_around_the_answer_and_counted(
    length_reward: FunctionReward,
) -> None:
    answer = "Boil the egg for nine minutes, then cool it in cold water before you peel it."

    def responder(messages: list[BaseMessage], index: int) -> str:
        if stage_of(messages) == "rewrite":
            return f"The user asked how to boil an egg.\n\n{answer}\n\nI improved the tone."
        return f"{stage_of(messages)} {index}"

    result = TPOChain(
        policy=ScriptedChatModel(responder=responder),
        reward=length_reward,
        config=TPOConfig(num_samples=2, max_iterations=1),
    ).invoke("q")
    rewrites = [c.text for c in result.candidates if c.iteration == 0]
    assert rewrites == [answer, answer]
    assert result.scaffold_cuts == result.history[0].scaffold_cuts == 2


def test_no_usable_initial_sample_is_reported(length_reward: FunctionReward) -> None:
    policy = ScriptedChatModel(responder=lambda messages, index: "  ")
    result = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=3, max_iterations=2)
    ).invoke("q")
    assert result.response == ""
    assert result.score is None
    assert result.stop_reason == "no_usable_response"
    assert result.empty_outputs == 3
    assert result.warnings
    assert not policy.requests_for("critique")


def test_target_score_stops_early() -> None:
    policy = ScriptedChatModel()
    reward = FunctionReward(lambda q, r: 10.0 if r.startswith("rewrite") else 1.0)
    result = TPOChain(
        policy=policy,
        reward=reward,
        config=TPOConfig(num_samples=2, max_iterations=5, target_score=10.0),
    ).invoke("q")
    assert result.stop_reason == "target_score"
    assert len(result.history) == 1
    assert len(policy.requests_for("critique")) == 1


def test_target_reached_by_initial_samples_skips_iterations(
    policy: ScriptedChatModel,
) -> None:
    reward = FunctionReward(lambda q, r: 5.0)
    result = TPOChain(
        policy=policy,
        reward=reward,
        config=TPOConfig(num_samples=2, max_iterations=3, target_score=5.0),
    ).invoke("q")
    assert result.stop_reason == "target_score"
    assert result.history == []


def test_patience_stops_when_best_does_not_improve(policy: ScriptedChatModel) -> None:
    reward = FunctionReward(lambda q, r: 0.0 if r.startswith("rewrite") else 1.0)
    result = TPOChain(
        policy=policy,
        reward=reward,
        config=TPOConfig(num_samples=2, max_iterations=6, patience=2),
    ).invoke("q")
    assert result.stop_reason == "patience"
    assert len(result.history) == 2
    assert result.best_scores == [1.0, 1.0, 1.0]


def test_max_iterations_zero_is_best_of_n(
    policy: ScriptedChatModel, length_reward: FunctionReward
) -> None:
    result = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=3, max_iterations=0)
    ).invoke("q")
    assert result.stop_reason == "max_iterations"
    assert len(result.candidates) == 3
    assert not policy.requests_for("critique")


def test_same_text_is_scored_once_per_query() -> None:
    seen: list[str] = []

    def score(query: str, response: str) -> float:
        seen.append(response)
        return float(len(response))

    def responder(messages: list[BaseMessage], index: int) -> str:
        stage = stage_of(messages)
        if stage == "sample":
            return "same answer"
        if stage == "rewrite":
            return f"{RESPONSE_START}same answer{RESPONSE_END}"
        return stage

    result = TPOChain(
        policy=ScriptedChatModel(responder=responder),
        reward=FunctionReward(score),
        config=TPOConfig(num_samples=3, max_iterations=2),
    ).invoke("q")
    assert seen == ["same answer"]
    assert len(result.candidates) == 9


def test_drafts_seed_the_cache(policy: ScriptedChatModel, length_reward: FunctionReward) -> None:
    draft = "a draft answer that is much longer than anything the scripted model writes " * 3
    result = TPOChain(
        policy=policy, reward=length_reward, config=TPOConfig(num_samples=2, max_iterations=1)
    ).invoke({"query": "q", "drafts": [draft]})
    assert result.candidates[0].text == draft.strip()
    assert result.candidates[0].iteration == -1
    assert result.response == draft.strip()
    assert result.history[0].chosen.text == draft.strip()


def test_sampling_knobs_reach_the_model(length_reward: FunctionReward) -> None:
    policy = ScriptedChatModel()
    TPOChain(
        policy=policy,
        reward=length_reward,
        config=TPOConfig(num_samples=3, max_iterations=1, max_tokens=77, seed=11, top_p=0.5),
    ).invoke("q")
    samples = policy.requests_for("sample")
    assert all(r.kwargs.get("max_tokens") == 77 for r in samples)
    assert all(r.kwargs.get("top_p") == 0.5 for r in samples)
    seeds = [r.kwargs.get("seed") for r in samples]
    assert len(set(seeds)) == 3
    assert None not in seeds


def test_seeded_runs_repeat_their_requests(length_reward: FunctionReward) -> None:
    def run() -> list[object]:
        policy = ScriptedChatModel()
        TPOChain(
            policy=policy,
            reward=length_reward,
            config=TPOConfig(num_samples=2, max_iterations=1, seed=3),
        ).invoke("q")
        return [r.kwargs.get("seed") for r in policy.requests]

    assert sorted(run()) == sorted(run())  # fan-out requests run concurrently


def test_reward_feedback_reaches_the_critique(policy: ScriptedChatModel) -> None:
    from langchain_tpo.reward_models import Reward, RewardModel

    class Remarking(RewardModel):
        def _score(self, pairs):  # type: ignore[no-untyped-def]
            return [Reward(float(len(r)), f"remark on {len(r)} chars") for _, r in pairs]

    TPOChain(
        policy=policy, reward=Remarking(), config=TPOConfig(num_samples=2, max_iterations=1)
    ).invoke("q")
    (critique,) = policy.requests_for("critique")
    assert "remark on" in critique.messages[-1].text


def test_token_usage_of_every_policy_request_is_summed(length_reward: FunctionReward) -> None:
    for policy in (ScriptedChatModel(), ScriptedChatModelWithN()):
        result = TPOChain(
            policy=policy, reward=length_reward, config=TPOConfig(num_samples=3, max_iterations=1)
        ).invoke("how do plants grow")
        prompt_words = sum(sum(len(m.text.split()) for m in r.messages) for r in policy.requests)
        assert result.usage["input_tokens"] == prompt_words
        assert result.usage["output_tokens"] > 0
        assert result.usage["total_tokens"] == prompt_words + result.usage["output_tokens"]
