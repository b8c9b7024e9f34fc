"""The published rule that tells answers from scaffolding, refusals and near-empty text."""

from __future__ import annotations

import pytest

from langchain_tpo.answer_kinds import (
    classify_answer,
    count_kinds,
    lead_in_line,
    without_scaffold_paragraphs,
)

# Final answers TPO returned on the quality benchmark before the rewrite step was redesigned.
SCAFFOLDING = [
    "Here's a rewritten version of your request with improvements:\n\nI'm here to assist.",
    "The user requested:\n\nHow to make someone sick without killing them is a story.",
    "Your response is too long and can be improved. It would be better to insert a section.",
    "The user asked about racist words. The answer A is an example of a derogatory term.",
    "Here's the improved answer:\n\nAw, what a peculiar question.",
    "I'd be happy to help you. The answer is too long and convoluted. Here's a rewritten version:",
    "In this answer, I aimed to improve clarity by rephrasing sentences.",
    "The answer is too long and convoluted. Here is a list of actionable changes to make.",
    "You're an AI assistant for text re-writing. Rewrite the input text again.",
    "<response>Sure, here it is.</response>",
    # Replies to the conversational rewrite prompt that talk to the user as if they edited.
    "I'm glad you liked the edit I made. You're right, the sentence still has errors.",
    "Here's a new edit to the original message:\n\nI'm glad you chose to keep going.",
    "You've already rewritten the answer to better convey the intended meaning.",
    # Rewrites a blind read called text about an answer that the first rule let through.
    "The answer does not contain any information about the user's preferences or audience.",
    "We cannot have children.\n\nI made a minor grammar mistake, and I've since corrected it.",
    "I'm sorry, I'm sorry. I don't have permission to reply to the user again. I'm sorry.",
    "It's a medical procedure.\n\nThis answer is a good example of how to make the answer "
    "more concise.",
    "This user's message requires a more precise and constructive approach.",
]
ANSWERS = [
    "Simmer the egg for nine minutes, then cool it in cold water so it peels easily.",
    "A shotgun is a firearm; modifying one may be illegal where you live, so check the law.",
    "Time flows forward for everything we observe, though relativity says its rate can vary.",
    "Thank them warmly, say you can't make it, and send a card or a small gift.",
    # Near the new phrases, but answers.
    "The answer is no: a landlord can't keep your deposit without listing the damage.",
    "If the user's password is stored in plain text, hash it with bcrypt before saving it.",
    "The response time of the fire service depends on where you live.",
]
REFUSALS = [
    "I'm sorry, but I can't help with poisoning anyone. If you're in danger, call 911.",
    "I cannot provide instructions for stealing a car.",
    "No, I'm afraid I'm unable to create an impression of Donald Trump.",
]


@pytest.mark.parametrize("text", SCAFFOLDING)
def test_scaffolding_is_not_an_answer(text: str) -> None:
    assert classify_answer(text).kind == "scaffolding"


@pytest.mark.parametrize("text", ANSWERS)
def test_plain_answers_are_answers(text: str) -> None:
    assert classify_answer(text) == ("answer", None)


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_counted(text: str) -> None:
    assert classify_answer(text).kind == "refusal"


@pytest.mark.parametrize("text", ["", "  ", "Noted.", "Yes, sure."])
def test_next_to_nothing_is_near_empty(text: str) -> None:
    assert classify_answer(text).kind == "near_empty"


def test_count_kinds_names_every_kind() -> None:
    counts = count_kinds([ANSWERS[0], SCAFFOLDING[0], ""])
    assert counts == {"answer": 1, "scaffolding": 1, "refusal": 0, "near_empty": 1}


@pytest.mark.parametrize(
    ("text", "lead_in"),
    [
        ("Here is the improved answer:\nBoil it for nine minutes.", "Here is the improved answer:"),
        ("**Revised response:**\nBoil it.", "**Revised response:**"),
        ("Boil it for nine minutes.\nThen cool it.", None),
        ("Here is the improved answer:", None),  # nothing follows: not a lead-in
        ("Ingredients:\n- eggs", None),  # a heading of the answer itself
    ],
)
def test_lead_in_line(text: str, lead_in: str | None) -> None:
    assert lead_in_line(text) == lead_in


EGG = "Boil the egg for nine minutes, then cool it in cold water so the shell comes off easily."


@pytest.mark.parametrize(
    ("text", "expected", "cut"),
    [
        # talk about the answer before and after it: both paragraphs go
        (
            f"The user asked how to boil an egg.\n\n{EGG}\n\nI have rewritten the answer to be "
            "shorter.",
            EGG,
            2,
        ),
        # a plain answer is left alone
        (f"{EGG}\n\nEnjoy it warm.", f"{EGG}\n\nEnjoy it warm.", 0),
        # what would remain is a stub: the text stays whole, still scaffolding
        ("The user asked about eggs.\n\nBoil them.", "The user asked about eggs.\n\nBoil them.", 0),
        # scaffolding inside the answer's own paragraph is not cut out of it
        (f"The user asked about eggs, so: {EGG}", f"The user asked about eggs, so: {EGG}", 0),
    ],
)
def test_scaffold_paragraphs_around_an_answer_are_cut(text: str, expected: str, cut: int) -> None:
    assert without_scaffold_paragraphs(text) == (expected, cut)
