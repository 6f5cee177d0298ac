"""The tuning/checking split of labelled files: fixed by the id alone, disjoint and complete."""
import hashlib

import pytest

from newswatch.pipelines.nlp.evaluate import EvalInputError, half_of, split_half

ITEMS = [{"id": f"item-{n}", "text": "x", "labels": []} for n in range(200)]


def test_halves_are_disjoint_and_cover_every_item():
    tuning = split_half(ITEMS, "tuning")
    checking = split_half(ITEMS, "checking")
    assert {i["id"] for i in tuning}.isdisjoint(i["id"] for i in checking)
    assert len(tuning) + len(checking) == len(ITEMS)
    assert 70 < len(tuning) < 130  # a hash splits roughly in two


def test_the_rule_is_the_parity_of_the_first_sha256_byte():
    for item in ITEMS[:20]:
        even = hashlib.sha256(item["id"].encode("utf-8")).digest()[0] % 2 == 0
        assert half_of(item["id"]) == ("tuning" if even else "checking")


def test_order_and_neighbours_do_not_move_an_item():
    reordered = list(reversed(ITEMS)) + [{"id": "new-one", "text": "y", "labels": []}]
    before = {i["id"] for i in split_half(ITEMS, "checking")}
    after = {i["id"] for i in split_half(reordered, "checking")} - {"new-one"}
    assert before == after


def test_unknown_half_and_missing_id_are_refused_with_a_reason():
    with pytest.raises(EvalInputError, match="unknown half"):
        split_half(ITEMS, "training")
    with pytest.raises(EvalInputError, match="no \"id\""):
        split_half([{"text": "x", "labels": []}], "tuning")
