"""N samples per conversation from `ChatHuggingFace` over a transformers text-generation pipeline.

The stock `ChatHuggingFace` keeps only the first sequence a pipeline returns and runs one
conversation at a time. TPO needs every sample, so `sample_pipeline_chat` calls the pipeline's
model directly: all conversations of a call go through one left-padded `generate` with
`num_return_sequences=n`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_tpo.chat_models._messages import to_chat_dicts

__all__ = ["is_pipeline_chat_model", "sample_pipeline_chat"]


def is_pipeline_chat_model(model: Any) -> bool:
    """Whether `model` is a `ChatHuggingFace` over a local text-generation pipeline.

    Args:
        model: Any runnable or chat model.

    Returns:
        True for `ChatHuggingFace(llm=HuggingFacePipeline(pipeline=...))` with a
        `text-generation` pipeline; False otherwise (also when langchain-huggingface is absent).
    """
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError:
        return False
    if not isinstance(model, ChatHuggingFace) or not isinstance(model.llm, HuggingFacePipeline):
        return False
    return getattr(model.llm.pipeline, "task", None) == "text-generation"


def sample_pipeline_chat(
    model: Any,
    conversations: Sequence[Sequence[BaseMessage]],
    n: int,
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
) -> tuple[list[list[str]], dict[str, int]]:
    """Draw `n` replies to each conversation in one batched `generate` call.

    Settings left as None come from the pipeline's generation config (what was passed to
    `pipeline(...)`, else the model's `generation_config.json`). Sampling is on unless
    `temperature` is 0; a greedy call generates once and repeats the reply `n` times.

    Args:
        model: A `ChatHuggingFace` for which `is_pipeline_chat_model` is True.
        conversations: The conversations to answer.
        n: Replies per conversation.
        temperature: Sampling temperature; 0 means greedy decoding.
        top_p: Nucleus sampling mass.
        max_tokens: Maximum new tokens per reply.
        seed: Seeds torch's generators before generating, for reproducible samples.

    Returns:
        The reply texts per conversation (`n` each, prompt and special tokens removed), and the
        token usage `{"input_tokens", "output_tokens", "total_tokens"}` of the call.

    Raises:
        ValueError: `model` is not a pipeline chat model, or `n` is below 1.
    """
    if not is_pipeline_chat_model(model):
        msg = "sample_pipeline_chat needs ChatHuggingFace(llm=HuggingFacePipeline(...))."
        raise ValueError(msg)
    if n < 1:
        msg = f"n must be at least 1, got {n}."
        raise ValueError(msg)
    if not conversations:
        return [], {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}

    import torch
    import transformers

    pipe = model.llm.pipeline
    tokenizer = model.tokenizer or pipe.tokenizer
    hf_model = pipe.model

    config = copy.deepcopy(getattr(pipe, "generation_config", None) or hf_model.generation_config)
    if max_tokens is not None:
        config.max_new_tokens = max_tokens
        config.max_length = None
    if top_p is not None:
        config.top_p = top_p
    if temperature is not None:
        config.do_sample = temperature > 0
        if temperature > 0:
            config.temperature = temperature
    elif config.do_sample is None or (n > 1 and not config.do_sample):
        # TPO asks for n distinct samples: n greedy copies would all be the same.
        config.do_sample = True
    if not config.do_sample:
        config.temperature = None
        config.top_p = None
        config.top_k = None
    per_prompt = n if config.do_sample else 1
    config.num_return_sequences = per_prompt

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # batching pads; most causal LMs declare none
    config.pad_token_id = tokenizer.pad_token_id

    prompts = [
        tokenizer.apply_chat_template(to_chat_dicts(c), tokenize=False, add_generation_prompt=True)
        for c in conversations
    ]
    # The chat template already writes the special tokens the model expects at the start.
    batch = tokenizer(
        prompts,
        return_tensors="pt",
        padding=True,
        padding_side="left",
        add_special_tokens=False,
    ).to(hf_model.device)

    if seed is not None:
        transformers.set_seed(seed)
    with torch.inference_mode():
        output = hf_model.generate(**batch, generation_config=config)

    new_tokens = output[:, batch["input_ids"].shape[1] :].tolist()
    stops = _stop_ids(config, tokenizer)
    texts: list[list[str]] = []
    output_tokens = 0
    for i in range(len(conversations)):
        replies = []
        for ids in new_tokens[i * per_prompt : (i + 1) * per_prompt]:
            ids = _until_stop(ids, stops)
            output_tokens += len(ids)
            replies.append(tokenizer.decode(ids, skip_special_tokens=True).strip())
        texts.append(replies * (n // per_prompt))
    input_tokens = int(batch["attention_mask"].sum().item())
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    return texts, usage


def _stop_ids(config: Any, tokenizer: Any) -> set[int]:
    eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
    if eos is None:
        return set()
    return {int(e) for e in eos} if isinstance(eos, list | tuple) else {int(eos)}


def _until_stop(ids: list[int], stops: set[int]) -> list[int]:
    """The generated ids up to and including the first stop token (padding follows it)."""
    for k, token in enumerate(ids):
        if token in stops:
            return ids[: k + 1]
    return ids
