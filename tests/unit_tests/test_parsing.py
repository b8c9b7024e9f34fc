from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START, extract_response


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
