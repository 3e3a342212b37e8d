"""A run ID from a URL is checked against the shape of the IDs the app makes."""

from __future__ import annotations

import pytest

from triggers.schedule import SCHEDULED_PREFIX
from workflow.instance_ids import (
    batch_instance_id,
    is_run_id,
    new_run_id,
    server_instance_id,
    shard_instance_id,
)

HEX20 = "0123456789abcdef0123"


@pytest.mark.parametrize("prefix", ["exp", SCHEDULED_PREFIX, "ab", "retry2", "p" * 16])
def test_every_id_new_run_id_makes_is_a_run_id(prefix: str) -> None:
    for _ in range(50):
        assert is_run_id(new_run_id(prefix))


def test_the_default_and_scheduled_ids_are_run_ids() -> None:
    assert is_run_id(new_run_id())
    assert is_run_id(f"exp-{HEX20}")
    assert is_run_id(f"sched-{HEX20}")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "exp",
        "exp-",
        f"exp-{HEX20}0",  # 21 hex digits
        f"exp-{HEX20[:-1]}",  # 19
        f"EXP-{HEX20}",
        f"exp-{HEX20.upper()}",
        f"e-{HEX20}",  # prefix of one character
        f"{'p' * 17}-{HEX20}",  # prefix of 17
        f"1xp-{HEX20}",  # prefix starting with a digit
        f"ex-p-{HEX20}",
        f"exp_{HEX20}",
        f"exp-{HEX20}\n",  # `$` would let this through
        f"\nexp-{HEX20}",
        f" exp-{HEX20}",
        f"exp-{HEX20}?",
        f"exp-{HEX20}#x",
        f"exp-{HEX20}/cancel",
        f"exp-{HEX20[:-1]}\u0663",  # ARABIC-INDIC DIGIT THREE: a digit, not ASCII
        f"exp-{HEX20[:-1]}\uff41",  # FULLWIDTH a
        "?9\u00f3\u00a9",  # the id of GET /api/exports/%3F9%F3%A9 once decoded
        "?",
        "#",
        "../exp",
    ],
)
def test_anything_else_is_not_a_run_id(value: str) -> None:
    assert not is_run_id(value)


def test_ids_of_a_runs_children_are_not_run_ids() -> None:
    run = new_run_id()
    for child in (
        shard_instance_id(run, 3),
        batch_instance_id(run, 1, 2),
        server_instance_id(run, "sub/rg/db"),
    ):
        assert not is_run_id(child)


@pytest.mark.parametrize("value", [None, 7, b"exp-0123456789abcdef0123", ["exp"]])
def test_non_strings_are_not_run_ids(value: object) -> None:
    assert not is_run_id(value)
