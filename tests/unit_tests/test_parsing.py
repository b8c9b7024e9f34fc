from langchain_core.prompts import ChatPromptTemplate

from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START, extract_response, scaffold_lines
from langchain_tpo.prompts import MARKER_REWRITE_PROMPT, REWRITE_PROMPT


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

SCAFFOLD = scaffold_lines(MARKER_REWRITE_PROMPT)


def test_scaffold_is_the_prompts_lines_with_holes_for_variables() -> None:
    assert "{}a user asked:" in SCAFFOLD
    assert "suggested improvements:" in SCAFFOLD
    assert not any("{query}" in line or "{chosen}" in line for line in SCAFFOLD)
    assert all(len(line.replace("{}", "")) >= 12 for line in SCAFFOLD)


def test_a_line_of_the_conversational_prompt_with_a_variable_is_an_echo() -> None:
    scaffold = scaffold_lines(REWRITE_PROMPT)
    output = "Thank them warmly.\nHow to make it better (between the lines ===== k2j4 =====):\nq"
    result = extract_response(output, scaffold=scaffold)
    assert result.text == "Thank them warmly."
    assert result.echoed_prompt


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


def test_nested_markers_do_not_leak_into_the_answer() -> None:
    output = f"{RESPONSE_START}outer {RESPONSE_START}inner answer{RESPONSE_END} tail{RESPONSE_END}"
    text = extract_response(output).text
    assert RESPONSE_START not in text and RESPONSE_END not in text
    assert "inner answer" in text


def test_a_leading_lead_in_line_is_cut_and_counted() -> None:
    result = extract_response("Here is the improved answer:\n\nBoil the egg for nine minutes.")
    assert result.text == "Boil the egg for nine minutes."
    assert result.lead_in
    plain = extract_response("Boil the egg for nine minutes.\nThen cool it.")
    assert not plain.lead_in and plain.text.startswith("Boil")


def test_scaffold_paragraphs_around_the_answer_are_cut_and_counted() -> None:
    answer = "Boil the egg for nine minutes, then cool it in cold water before you peel it."
    result = extract_response(f"{answer}\n\nThe user requested a shorter answer, so I cut it.")
    assert result.text == answer
    assert result.scaffold_paragraphs == 1
    assert extract_response(answer).scaffold_paragraphs == 0


def test_a_line_carrying_the_fence_tag_is_cut() -> None:
    output = "Some common insults include:\nL'I\n=== htpoqg7t =====\nmore echo"
    result = extract_response(output, scaffold={"{}htpoqg7t{}"})
    assert result.text == "Some common insults include:\nL'I" and result.echoed_prompt


def test_a_fence_line_echo_is_cut() -> None:
    result = extract_response(
        "Decline kindly.\n===== ab12cd34 =====\nmore", scaffold={"===== ab12cd34 ====="}
    )
    assert result.text == "Decline kindly." and result.echoed_prompt


def test_fence_lines_of_earlier_prompts_are_removed_and_counted() -> None:
    # A rewrite of the quality benchmark that carried an earlier step's fence line.
    output = "Cleaning a shotgun starts with unloading it.\n===== lzlt25uy =====\nThen oil it."
    result = extract_response(output)
    assert result.text == "Cleaning a shotgun starts with unloading it.\nThen oil it."
    assert result.echoed_prompt


def test_a_fence_line_cut_short_by_the_end_of_generation_is_removed() -> None:
    # Rewrites of the committed everyday runs that began copying a fence line and stopped.
    for output, answer in [
        ("Adults need 7-9 hours of sleep.\n\n===== ir5d7", "Adults need 7-9 hours of sleep."),
        ("Add oil to the water.\n===== ny\n=====", "Add oil to the water."),
        ("Run `python --version`.\n=====", "Run `python --version`."),
        ("Tip 15-20%.\n===== tbsy7m\nRound up for good service.",
         "Tip 15-20%.\nRound up for good service."),
    ]:  # fmt: skip
        result = extract_response(output)
        assert result.text == answer, output
        assert result.echoed_prompt


def test_equals_signs_in_an_answer_are_kept() -> None:
    output = "In Python, `a == b` compares.\n===== results =====\nAll tests pass."
    result = extract_response(output)
    assert result.text == output
    assert not result.echoed_prompt
    heading = "Title\n=====\nA setext heading keeps its underline.\n\nx ==== y"
    assert extract_response(heading).text == heading


def test_a_long_piece_of_a_prompt_line_is_an_echo() -> None:
    # A quality-benchmark rewrite was nothing but the last clause of the rewrite prompt of the
    # time; this is the same shape with the current prompt.
    scaffold = scaffold_lines(REWRITE_PROMPT)
    output = "Write the new reply and nothing else, exactly as you would send it."
    result = extract_response(output, scaffold=scaffold)
    assert result.text == "" and result.echoed_prompt
    kept = extract_response(f"Rinse the rice twice.\n{output}", scaffold=scaffold)
    assert kept.text == "Rinse the rice twice." and kept.echoed_prompt


def test_a_short_phrase_shared_with_the_prompt_is_not_an_echo() -> None:
    scaffold = scaffold_lines(REWRITE_PROMPT)
    output = "Be honest and harmless with them.\nTell them the truth kindly."
    result = extract_response(output, scaffold=scaffold)
    assert result.text == output and not result.echoed_prompt
