from collections.abc import Iterator

import pytest

from langchain_tpo.evaluation import DatasetProblem, PromptRow, Selection, Shard


def rows(n: int, problem_at: int | None = None) -> Iterator[PromptRow | DatasetProblem]:
    for i in range(n):
        if i == problem_at:
            yield DatasetProblem(i + 1, "bad")
        yield PromptRow(f"p{i}", f"prompt {i}", line=i + 1)


def ids(selection: Selection, n: int = 20) -> list[str]:
    return [r.id for r in selection.rows(lambda: rows(n)) if isinstance(r, PromptRow)]


def test_no_selection_keeps_everything_in_order() -> None:
    assert ids(Selection(), 5) == ["p0", "p1", "p2", "p3", "p4"]


def test_a_sample_is_seeded_in_file_order_and_limit_takes_its_head() -> None:
    first = ids(Selection(sample=5, sample_seed=3))
    assert len(first) == 5 and first == ids(Selection(sample=5, sample_seed=3))
    assert first == sorted(first, key=lambda i: int(i[1:]))
    assert first != ids(Selection(sample=5, sample_seed=4))
    assert ids(Selection(sample=5, sample_seed=3, limit=2)) == first[:2]
    assert ids(Selection(sample=50)) == ids(Selection())  # more than there are: all of them


def test_shards_split_the_selection_disjointly() -> None:
    whole = ids(Selection(sample=12, sample_seed=1))
    parts = [ids(Selection(sample=12, sample_seed=1, shard=Shard(i, 3))) for i in (1, 2, 3)]
    assert sorted(i for part in parts for i in part) == sorted(whole)
    assert all(parts)
    assert Shard(2, 3).holds("p7") == Shard.parse(" 2/3 ").holds("p7")


def test_problems_are_passed_on_and_benchmark_filter_applies_first() -> None:
    selection = Selection(keep=lambda row: int(row.id[1:]) % 2 == 0, limit=2)
    out = list(selection.rows(lambda: rows(10, problem_at=1)))
    assert [getattr(r, "id", "problem") for r in out] == ["p0", "problem", "p2"]


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "1", "1/0"])
def test_bad_shards_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="--shard"):
        Shard.parse(text)


def test_bad_sample_and_limit() -> None:
    with pytest.raises(ValueError, match="--sample must be at least 1"):
        Selection(sample=0)
    with pytest.raises(ValueError, match="--limit must be at least 1"):
        Selection(limit=0)
