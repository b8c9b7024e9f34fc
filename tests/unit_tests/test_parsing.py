from langchain_core.prompts import ChatPromptTemplate

from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START, extract_response, scaffold_lines
from langchain_tpo.prompts import REWRITE_PROMPT


def wrap(text: str) -> str:
    return f"{RESPONSE_START}{text}{RESPONSE_END}"


def test_text_between_markers() -> None:
    result = extract_response(f"Sure, here it is.\n{wrap('  the answer  ')}\nThanks")
    assert result.text == "the answer"
    assert result.had_markers


def test_last_complete_pair_wins() -> None:
    assert extract_response(wrap("first") + wrap("second")).text == "second"


def test_missing_markers_keep_whole_output_trimmed() -> None:
    result = extract_response("  no markers at all \n")
    assert result.text == "no markers at all"
    assert not result.had_markers


def test_unclosed_start_marker_takes_the_rest() -> None:
    result = extract_response(f"preamble {RESPONSE_START} cut off answer")
    assert result.text == "cut off answer"


def test_empty_between_markers_is_empty() -> None:
    assert extract_response(wrap("   ")).text == ""


# -- echoes of the prompt -------------------------------------------------------------------

SCAFFOLD = scaffold_lines(REWRITE_PROMPT)


def test_scaffold_is_the_prompts_fixed_lines_without_variables() -> None:
    assert "a user asked:" in SCAFFOLD
    assert "suggested improvements:" in SCAFFOLD
    assert not any("{" in line for line in SCAFFOLD)
    assert all(len(line) >= 12 for line in SCAFFOLD)


def test_output_is_cut_before_a_repeated_prompt_line() -> None:
    output = (
        "Say no kindly and thank them.\n\n**Suggested improvements:**\n- be warmer\nA user asked:"
    )
    result = extract_response(output, scaffold=SCAFFOLD)
    assert result.text == "Say no kindly and thank them."
    assert result.echoed_prompt and not result.had_markers


def test_a_dangling_lead_in_goes_with_the_echo() -> None:
    output = "Thank them warmly.\nHere is the improved answer:\n\nA user asked:\nHow do I..."
    assert extract_response(output, scaffold=SCAFFOLD).text == "Thank them warmly."
    only_lead_in = "Here's a revised response that follows the suggestions:\n\nA user asked:\nq"
    result = extract_response(only_lead_in, scaffold=SCAFFOLD)
    assert result.text == "" and result.echoed_prompt


def test_prompt_words_inside_a_sentence_are_not_an_echo() -> None:
    output = "I made the suggested improvements: shorter and kinder."
    result = extract_response(output, scaffold=SCAFFOLD)
    assert result.text == output
    assert not result.echoed_prompt


def test_echo_inside_markers_is_cut_too() -> None:
    result = extract_response(wrap("Decline politely.\nA user asked:\nq"), scaffold=SCAFFOLD)
    assert result.text == "Decline politely."
    assert result.had_markers and result.echoed_prompt


def test_a_replaced_prompt_brings_its_own_scaffold() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("human", "Question for you:\n{query}\nBetter draft wanted:\n{chosen}\n{suggestion}")]
    )
    scaffold = scaffold_lines(prompt)
    assert scaffold == {"question for you:", "better draft wanted:"}
    assert extract_response("Fine.\nQuestion for you:\nq", scaffold=scaffold).text == "Fine."
