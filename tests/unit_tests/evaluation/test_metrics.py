import math

import pytest

from langchain_tpo.evaluation.metrics import (
    best_so_far_curve,
    exact_match,
    extract_final_answer,
    normalize_answer,
    sample_spread,
    win_rate,
)


def test_best_so_far_carries_early_stops_forward() -> None:
    rows = [{"best_scores": [1.0, 2.0, 3.0]}, {"best_scores": [3.0]}]
    curve = best_so_far_curve(rows)
    assert [s.mean for s in curve] == [2.0, 2.5, 3.0]
    assert curve[0].std == 1.0
    assert all(s.n == 2 for s in curve)


def test_sample_spread_per_round() -> None:
    rows = [{"scores_by_iteration": [[0.0, 2.0], [1.0, 1.0]]}, {"scores_by_iteration": [[1.0]]}]
    spread = sample_spread(rows)
    assert [s.mean for s in spread] == [1.0, 0.0]
    assert [s.n for s in spread] == [1, 1]


def test_win_rate_on_shared_ids_with_ties() -> None:
    a = [
        {"id": 1, "score": 2.0},
        {"id": 2, "score": 1.0},
        {"id": 3, "score": 5.0},
        {"id": 9, "score": 0},
    ]
    b = [{"id": 1, "score": 1.0}, {"id": 2, "score": 1.0}, {"id": 3, "score": 6.0}]
    w = win_rate(a, b)
    assert (w.wins, w.ties, w.losses, w.n) == (1, 1, 1, 3)
    assert w.rate == 0.5
    assert math.isnan(win_rate([], b).rate)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        (
            "\\boxed{1} then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}",
            "\\left( 3, \\frac{\\pi}{2} \\right)",
        ),
        ("There are 1,024 ways, or maybe 12.", "12"),
        ("no answer here", None),
    ],
)
def test_extract_final_answer(text: str, answer: str | None) -> None:
    assert extract_final_answer(text) == answer


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("\\dfrac{1}{2}", "\\frac12"),
        ("1/2", "\\frac{1}{2}"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
        ("1,024", "1024"),
        ("0.50", "0.5"),
        ("90^\\circ", "90"),
        ("\\text{(C)}", "(C)"),
        ("$5$.", "5"),
    ],
)
def test_normalized_answers_match(a: str, b: str) -> None:
    assert normalize_answer(a) == normalize_answer(b)


def test_exact_match_only_counts_short_references() -> None:
    rows = [
        {"reference": "\\frac{1}{2}", "response": "Thus \\boxed{\\dfrac12}."},
        {"reference": "7", "response": "It is 8."},
        {"reference": "A long reference answer.\nWith lines.", "response": "whatever"},
        {"response": "no reference"},
    ]
    em = exact_match(rows)
    assert em is not None
    assert (em.mean, em.n) == (0.5, 2)
    assert exact_match(rows[2:]) is None
