import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import ChatPromptValue

from langchain_tpo.inputs import coerce_input


def test_string_input() -> None:
    assert coerce_input("  hello ")["query"].strip() == "hello"


def test_dict_input_with_context_and_drafts() -> None:
    value = coerce_input(
        {"query": "q", "context": [("human", "hi"), ("ai", "hello")], "drafts": ["d"]}
    )
    assert value["query"] == "q"
    assert [m.type for m in value["context"]] == ["human", "ai"]
    assert value["drafts"] == ["d"]


def test_message_list_last_human_is_query() -> None:
    value = coerce_input(
        [
            SystemMessage("be nice"),
            HumanMessage("first"),
            AIMessage("reply"),
            HumanMessage("second"),
        ]
    )
    assert value["query"] == "second"
    assert [m.text for m in value["context"]] == ["be nice", "first", "reply"]


def test_prompt_value_input() -> None:
    value = coerce_input(ChatPromptValue(messages=[HumanMessage("from a prompt")]))
    assert value["query"] == "from a prompt"


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("", ["empty"]),
        ("   \n\t", ["empty"]),
        ({"query": "  "}, ["empty"]),
        ({"question": "hi"}, ["query"]),
        ({"query": "hi", "bogus": 1}, ["bogus"]),
        ({"query": 42}, ["query"]),
        ([], ["message"]),
        ([AIMessage("only an answer")], ["human"]),
        ([HumanMessage("q"), AIMessage("a")], ["human"]),
        ({"query": "q", "drafts": "not a list"}, ["drafts"]),
        ({"query": "q", "context": [42]}, ["context"]),
        (42, ["int"]),
        (None, ["None"]),
    ],
)
def test_bad_inputs_say_what_is_wrong(bad: object, words: list[str]) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        coerce_input(bad)
    for word in words:
        assert word.lower() in str(info.value).lower()
