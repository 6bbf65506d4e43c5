"""What an experiment's files tell the page (no DVC here: the parsed files as read): the label
mix of its subset from metrics/select.json, and its samples' code beside the verdicts."""

from __future__ import annotations

from codesift.compare.experiments import facts, with_code

LABELS = {"column": "quality", "pool": {"good": 0.7, "flawed": 0.3},
          "selected": {"good": 0.9, "flawed": 0.1}}


def test_label_mix_is_read_when_there_and_blank_for_older_runs():
    got = facts({"select": {"method": "cdas"}}, {"select": {
        "n_selected": 9, "labels": LABELS, "flawed_share": 0.1, "flawed_share_pool": 0.3}})
    assert (got["labels"], got["flawed_share"], got["flawed_share_pool"]) == (LABELS, 0.1, 0.3)
    old = facts({}, {"select": {"n_selected": 9, "labels": "not a mapping"}})
    assert (old["labels"], old["flawed_share"], old["flawed_share_pool"]) == (None, None, None)


def test_code_joins_verdicts_in_sample_order_only_when_they_line_up():
    rows = [{"task_id": "T/0", "passed": True}, {"task_id": "T/1", "passed": False}]
    with_code(rows, [{"task_id": "T/0", "solution": "a"}, {"task_id": "T/1", "completion": "b"}])
    assert [r["solution"] for r in rows] == ["a", "b"]
    other = [{"task_id": "T/0"}, {"task_id": "T/1"}]
    with_code(other, [{"task_id": "T/1", "solution": "x"}, {"task_id": "T/0", "solution": "y"}])
    with_code(other, [{"task_id": "T/0", "solution": "x"}])  # a sample short
    with_code(other, None)  # no samples file
    assert other == [{"task_id": "T/0"}, {"task_id": "T/1"}]
