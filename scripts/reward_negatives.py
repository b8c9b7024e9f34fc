"""TPO's own failure texts: what a small policy writes where an answer should be, in a loop.

TPO's rewrite step invites small policies to write *about* an answer instead of writing one.
The default reward ranks a real answer above such text, in the same dialogue. Each family here
produces one kind from a query (the human turn being answered), the row's real answer and a
seeded `random.Random`; templates are composed from parts so the phrasing varies: rewrite
scaffolding, review notes, suggestion lists, and echoes (of the query or of TPO's prompts).
Off-topic answers are built in `reward_data`; the everyday non-answer families (stalling,
platitudes, ...) in `reward_helpful_pairs`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

SCAFFOLD = "scaffold"
REVIEW = "review"
SUGGESTIONS = "suggestions"
ECHO = "echo"
OFF_TOPIC = "off_topic"

FIXED_REVIEW_SENTENCE = (
    "The answer is too long and convoluted. Here is a list of actionable changes to make."
)
"""The fixed text issue 10 found above most real answers; never used in training."""


# ---------------------------------------------------------------------------------- helpers
def topic_of(query: str, max_words: int = 12) -> str:
    """A short quote of the query for templates: first sentence, at most `max_words` words."""
    text = " ".join(query.split())
    for stop in ("? ", ". ", "! "):
        if stop in text:
            text = text.split(stop, 1)[0] + stop.strip()
    words = text.split()
    short = " ".join(words[:max_words]) + (" ..." if len(words) > max_words else "")
    short = short.rstrip("?.! ")
    if short[:2] != "I " and short[:1].isupper() and short[1:2].islower():
        short = short[0].lower() + short[1:]  # it goes mid-sentence
    return short or "this"


def first_sentences(answer: str, count: int) -> str:
    """The first `count` sentences of an answer (roughly), for quoting it."""
    text = " ".join(answer.split())
    out, rest = [], text
    for _ in range(count):
        cut = min((i for i in (rest.find(". "), rest.find("? "), rest.find("! ")) if i >= 0),
                  default=-1)  # fmt: skip
        if cut < 0:
            out.append(rest)
            rest = ""
            break
        out.append(rest[: cut + 1])
        rest = rest[cut + 2 :]
    return " ".join(s for s in out if s).strip()


def _pick(rng: random.Random, options: tuple[str, ...] | list[str]) -> str:
    return options[rng.randrange(len(options))]


def _fill(template: str, query: str, rng: random.Random) -> str:
    return template.replace("{topic}", topic_of(query, rng.choice((6, 9, 12))))


# --------------------------------------------------------------------- rewrite scaffolding
_REWRITE_NOUN = (
    "rewritten version", "revised answer", "improved response", "edited reply",
    "polished version", "updated answer", "refined draft", "corrected response",
    "reworded version", "rephrased answer", "modified response", "enhanced version",
)  # fmt: skip
_REWRITE_LEAD = (
    "Here's a {noun}", "Here is the {noun}", "Here is my {noun}", "Sure! Here's an {noun}",
    "Okay, here is a {noun}", "Below is the {noun}", "As requested, here's the {noun}",
    "Here's your {noun}", "Certainly. Here is a {noun}", "Following the feedback, here is a {noun}",
)  # fmt: skip
_REWRITE_LEAD_END = (
    ":", " of the answer:", " that applies the suggestions:", " with the changes applied:",
    ", shorter and clearer:", " based on the review:", " of the original response:", ".",
)  # fmt: skip
_USER_THIRD_PERSON = (
    'The user requested information about "{topic}".',
    'The user asked "{topic}".',
    "The user wants to know about {topic}.",
    'The user\'s question was "{topic}", and the draft did not answer it well.',
    "A user asked about {topic}, so the response has been reworked.",
    "The user is asking about {topic}.",
)  # fmt: skip
_CHANGE_NOTES = (
    "I have rewritten the answer to be clearer and more concise.",
    "I rephrased the opening and removed the repetition.",
    "In this revision, I kept the main point and cut the filler.",
    "I've edited the draft so it is more polite and direct.",
    "The changes make the response easier to follow.",
    "This version is shorter and addresses the request more directly.",
    "I improved the tone and fixed the grammar in the original response.",
    "The revised response now follows the suggested improvements.",
    "I applied the suggestions: shorter sentences, a clearer structure and a friendlier tone.",
    "Compared with the draft answer, this one is more specific.",
)  # fmt: skip
_SIGN_OFFS = (
    "Let me know if you would like further edits.",
    "I hope this improved answer works better.",
    "Feel free to ask for another revision.",
    "This should better meet the user's needs.",
    "",
)  # fmt: skip


def scaffold(query: str, answer: str, rng: random.Random) -> str:
    """Rewrite scaffolding: a lead-in, talk about the rewrite, maybe a quoted fragment."""
    lead = _pick(rng, _REWRITE_LEAD).format(noun=_pick(rng, _REWRITE_NOUN))
    lead += _pick(rng, _REWRITE_LEAD_END)
    shape = rng.randrange(5)
    if shape == 0:  # the lead-in and the whole answer: the answer is there, wrapped in talk
        parts = [lead, answer, _pick(rng, _SIGN_OFFS)]
    elif shape == 1:  # third-person talk about the user, then notes on the changes
        parts = [_fill(_pick(rng, _USER_THIRD_PERSON), query, rng), _pick(rng, _CHANGE_NOTES),
                 _pick(rng, _SIGN_OFFS)]  # fmt: skip
    elif shape == 2:  # markers around a fragment, as the rewrite prompt asks
        parts = [lead, f"<response>\n{first_sentences(answer, 1)}\n</response>",
                 _pick(rng, _CHANGE_NOTES)]  # fmt: skip
    elif shape == 3:  # lead-in with nothing after it but notes
        parts = [lead, _pick(rng, _CHANGE_NOTES), _pick(rng, _SIGN_OFFS)]
    else:  # a quoted first sentence, then notes about the edit
        parts = [_pick(rng, _CHANGE_NOTES), lead, f'"{first_sentences(answer, 1)}"',
                 _fill(_pick(rng, _USER_THIRD_PERSON), query, rng)]  # fmt: skip
    sep = _pick(rng, ("\n\n", "\n", " "))
    return sep.join(p for p in parts if p).strip()


# ------------------------------------------------------------------------- review notes
_REVIEWED = (
    "The answer", "This response", "The reply", "The assistant's response", "The draft",
    "Answer A", "The current answer", "The original response", "Response B", "Your response",
)  # fmt: skip
_VERDICTS = (
    "is too long and hard to follow", "is vague and never addresses the question directly",
    "is mostly accurate but lacks detail", "is polite but misses the main point",
    "repeats itself and could be more concise", "is unclear about {topic}",
    "does a good job of staying respectful", "ignores part of what the user asked",
    "sounds confident but gives no reasons", "is too short to be useful",
    "is not very helpful for someone asking about {topic}", "is a bit too informal",
    "contains a factual error", "is well organised but generic", "is off-topic",
)  # fmt: skip
_REVIEW_FOLLOW_UPS = (
    "It should give a concrete example.", "A better version would be more specific.",
    "Overall, it needs a clearer structure.", "It would help to explain why.",
    "I would rate it as adequate but improvable.", "The tone could be warmer.",
    "It does not take the user's situation into account.", "Its second half adds nothing.",
    "Answer B, by contrast, goes off on a tangent.", "Neither answer is ideal, but A is safer.",
    "The main weakness is the lack of actionable advice.", "It also fails to mention safety.",
)  # fmt: skip
_STRENGTHS = (
    "polite tone", "stays on topic", "short and readable", "avoids harmful content",
    "acknowledges the user's feelings", "clear first sentence",
)  # fmt: skip
_WEAKNESSES = (
    "vague wording", "no concrete steps", "repetitive", "misreads the question",
    "too long", "no explanation of risks", "awkward grammar", "ends abruptly",
)  # fmt: skip


def review(query: str, answer: str, rng: random.Random) -> str:
    """Review notes or a critique of an answer, in prose or as strengths and weaknesses."""
    subject = _pick(rng, _REVIEWED)
    verdict = _fill(_pick(rng, _VERDICTS), query, rng)
    shape = rng.randrange(4)
    if shape == 0:
        follow = rng.sample(_REVIEW_FOLLOW_UPS, rng.randint(1, 3))
        return " ".join([f"{subject} {verdict}.", *follow])
    if shape == 1:
        strengths = rng.sample(_STRENGTHS, 2)
        weaknesses = rng.sample(_WEAKNESSES, rng.randint(1, 3))
        return (
            f"{_pick(rng, ('Review', 'Critique', 'Assessment', 'Feedback'))}:\n"
            f"Strengths: {', '.join(strengths)}.\nWeaknesses: {', '.join(weaknesses)}.\n"
            f"{_pick(rng, _REVIEW_FOLLOW_UPS)}"
        )
    if shape == 2:
        return (
            f"Answer A is better than answer B because it {_pick(rng, _STRENGTHS_VERB)}. "
            f"Answer B {_fill(_pick(rng, _VERDICTS), query, rng)}. {_pick(rng, _REVIEW_FOLLOW_UPS)}"
        )
    quoted = first_sentences(answer, 1)
    return (
        f'When the assistant says "{quoted}", it {_pick(rng, _VERDICTS_SHORT)}. '
        f"{subject} {verdict}. {_pick(rng, _REVIEW_FOLLOW_UPS)}"
    )


_STRENGTHS_VERB = (
    "stays on topic", "is more respectful", "gives a clearer reason", "is easier to read",
    "avoids encouraging anything harmful", "answers the question that was actually asked",
)  # fmt: skip
_VERDICTS_SHORT = (
    "sounds dismissive", "is a reasonable start", "leaves the user without a next step",
    "could be misread", "is accurate but blunt",
)  # fmt: skip


# ----------------------------------------------------------------------- suggestion lists
_SUGGESTION_HEADERS = (
    "Suggestions:", "Here are some ways to improve the answer:", "Changes to make:",
    "To improve this response:", "Suggested improvements:", "Improvements:",
    "The answer could be improved as follows:", "Recommended edits:", "",
    "Based on the review, the answer should:",
)  # fmt: skip
_SUGGESTION_ITEMS = (
    "Start with a direct answer to the question.", "Remove the repeated sentences.",
    "Add a concrete example about {topic}.", "Use a warmer, more respectful tone.",
    "Shorten the response to two or three sentences.", "Explain the reasons behind the advice.",
    "Mention safety concerns where relevant.", "Avoid making assumptions about the user.",
    "Fix the grammar in the second sentence.", "End with an offer to help further.",
    "Cite a reliable source.", "Break the answer into clear steps.",
    "Address the question about {topic} explicitly.", "Cut the off-topic remarks.",
    "Acknowledge how the user feels before giving advice.", "Replace vague words with specifics.",
)  # fmt: skip
_BULLETS = ("{i}. ", "- ", "* ", "{i}) ", "Step {i}: ")


def suggestions(query: str, answer: str, rng: random.Random) -> str:
    """A list of edits to make to an answer, with or without a header."""
    items = [_fill(t, query, rng) for t in rng.sample(_SUGGESTION_ITEMS, rng.randint(2, 5))]
    if rng.random() < 0.2:  # run-on prose instead of a list
        words = ("First,", "Second,", "Third,", "Fourth,", "Finally,")
        body = " ".join(f"{w} {s[0].lower()}{s[1:]}" for w, s in zip(words, items, strict=False))
    else:
        bullet = _pick(rng, _BULLETS)
        body = "\n".join(bullet.format(i=i + 1) + s for i, s in enumerate(items))
    header = _pick(rng, _SUGGESTION_HEADERS)
    return f"{header}\n{body}".strip()


# ---------------------------------------------------------------------------------- echoes
_QUERY_ECHOES = (
    "{query}", "You asked: {query}", "Question: {query}\nAnswer:", "{query}\n\n{query}",
    '"{query}"', "So your question is: {query}", "User: {query}", "{query} {query}",
    "Your request was: {query} Please see below.", "Q: {query}\nA:", "> {query}",
    "{query}\nAssistant:", "Human: {query}\n\nAssistant:", "The question: {query}",
    "Let me restate the question. {query}", "You said: \"{query}\"", "Query: {query}",
    "{query} That is the question to answer.", "Re: {query}", "Restating your message: {query}",
)  # fmt: skip


def echo(query: str, answer: str, rng: random.Random) -> str:
    """The query repeated back, or (half the time) a piece of one of TPO's own prompts."""
    if rng.random() < 0.5:
        return _pick(rng, _QUERY_ECHOES).replace("{query}", query.strip())
    return tpo_prompt_echo(query, answer, rng)


def tpo_prompt_echo(query: str, answer: str, rng: random.Random) -> str:
    """A prefix of a TPO prompt (critique, suggest or rewrite), rendered for this query."""
    from langchain_core.messages import HumanMessage

    from langchain_tpo.fencing import fence_line, fenced
    from langchain_tpo.prompts import MARKERS, TPOPrompts

    prompts = TPOPrompts()
    draft = first_sentences(answer, 2)
    name = _pick(rng, ("critique", "revision_critique", "suggest", "rewrite"))
    critique, suggestion = review(query, answer, rng), suggestions(query, answer, rng)
    fence = fence_line(rng.randrange(1 << 30), [draft, critique, suggestion])
    values = {
        "context": "",
        "query": query.strip(),
        "conversation": [HumanMessage(query.strip())],
        "fence": fence,
        "chosen": draft,
        "fenced_chosen": fenced(draft, fence),
        "rejected": "I don't know.",
        "fenced_rejected": fenced("I don't know.", fence),
        "chosen_notes": "",
        "rejected_notes": "",
        "critique": critique,
        "fenced_critique": fenced(critique, fence),
        "suggestion": suggestion,
        "fenced_suggestion": fenced(suggestion, fence),
        **MARKERS,
    }
    prompt = getattr(prompts, name)
    wanted = set(prompt.input_variables) | set(prompt.optional_variables)
    messages = prompt.format_messages(**{k: v for k, v in values.items() if k in wanted})
    # The message carrying the instructions (the rewrite prompt ends with the user's query).
    text = max((m.text for m in messages), key=len)
    lines = text.splitlines()
    first = rng.randrange(max(1, len(lines) // 2)) if rng.random() < 0.4 else 0
    last = rng.randint(min(first + 3, len(lines)), len(lines))
    return "\n".join(lines[first:last]).strip() or text.strip()


GENERATORS: dict[str, Callable[[str, str, random.Random], str]] = {
    SCAFFOLD: scaffold,
    REVIEW: review,
    SUGGESTIONS: suggestions,
    ECHO: echo,
}


def generate(family: str, query: str, answer: str, rng: random.Random) -> str:
    """One non-answer of a templated `family` for a query and its real answer."""
    try:
        generator = GENERATORS[family]
    except KeyError:
        msg = f"no template generator for family {family!r}; known: {sorted(GENERATORS)}"
        raise ValueError(msg) from None
    return generator(query, answer, rng)


def usable_off_topic(answer: str) -> bool:
    """Whether a real answer is specific enough to serve as an off-topic non-answer elsewhere.

    Short or generic answers ("What do you mean?") fit many dialogues, so only answers of 15
    words or more that the published rule calls plain answers are used.
    """
    from langchain_tpo.answer_kinds import answer_kind

    return len(answer.split()) >= 15 and answer_kind(answer) == "answer"
