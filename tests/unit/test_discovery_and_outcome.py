"""Discovery cut into scopes and put back together, and the run's one-word outcome, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from mysqlexport import discovery, report

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def rid(name: str, group: str = "rg") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.DBforMySQL/flexibleServers/{name}"


def test_scopes_are_one_per_subscription_or_per_group_of_resource_groups() -> None:
    assert discovery.scopes({"subscriptions": ["a", "b"]}) == [
        {"subscription": "a", "resourceGroups": [], "tags": {}, "states": ["Ready"]},
        {"subscription": "b", "resourceGroups": [], "tags": {}, "states": ["Ready"]},
    ]
    groups = [f"g{i}" for i in range(discovery.GROUPS_PER_SCOPE * 2 + 1)]
    cut = discovery.scopes({"subscriptions": ["a"], "resourceGroups": groups, "tags": {"k": "v"}})
    assert [len(s["resourceGroups"]) for s in cut] == [discovery.GROUPS_PER_SCOPE] * 2 + [1]
    assert [g for s in cut for g in s["resourceGroups"]] == groups
    assert all(s["tags"] == {"k": "v"} for s in cut)
    assert (
        discovery.describe(cut[0])
        == "/subscriptions/a/resourceGroups/g0 (+24 more resource groups)"
    )


def answer(
    *servers: tuple[str, int | None], matched: int | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "servers": [[rid(n), size] for n, size in servers],
        "skipped": kw.get("skipped", []),
        "matched": len(servers) if matched is None else matched,
        "problems": kw.get("problems", []),
    }


def test_merge_puts_explicit_servers_first_then_the_largest_and_exports_each_once() -> None:
    merged = discovery.merge(
        [rid("named"), rid("big", "RG")],
        {"subscriptions": [SUB]},
        [answer(("small", 10), ("big", 500)), answer(("mid", 100), ("small", 10))],
    )
    assert merged.servers == [rid("named"), rid("big", "RG"), rid("mid"), rid("small")]
    assert merged.sizes == [None, 500, 100, 10]  # "big" was named and listed: its size is known
    assert merged.problems == []


def test_a_failed_scope_is_a_problem_and_the_rest_is_still_exported() -> None:
    failed = {"scope": f"/subscriptions/{SUB}", "code": "AuthorizationFailed", "message": "no"}
    merged = discovery.merge(
        [], {"subscriptions": [SUB, "x"]}, [answer(problems=[failed]), answer(("a", 1))]
    )
    assert merged.servers == [rid("a")]
    assert merged.problems == [failed]


@pytest.mark.parametrize(
    ("answers", "codes"),
    [
        ([answer()], ["NoServersMatched"]),  # listed fine, nothing matched
        ([answer(matched=2, skipped=[report.server_row(rid("s"), report.SKIPPED)])], []),
        ([answer(("a", 1))], []),
        (
            [answer(problems=[{"scope": "/subscriptions/x", "code": "SubscriptionNotFound"}])],
            ["SubscriptionNotFound"],  # the scope's own error says it; no second problem
        ),
    ],
)
def test_a_discovery_that_matched_nothing_is_a_named_problem(
    answers: list[dict[str, Any]], codes: list[str]
) -> None:
    merged = discovery.merge([], {"subscriptions": [SUB], "tags": {"backup": "never"}}, answers)
    assert [p["code"] for p in merged.problems] == codes


def test_servers_named_only_never_need_discovery() -> None:
    merged = discovery.merge([rid("a")], None, [])
    assert merged.servers == [rid("a")] and merged.problems == []


def summary(**counts: int) -> dict[str, int]:
    base = {"total": 0, "succeeded": 0, "failed": 0, "skipped": 0, "canceled": 0, "timedOut": 0}
    base.update(counts)
    return base


@pytest.mark.parametrize(
    ("counts", "problems", "canceled", "outcome"),
    [
        (summary(total=3, succeeded=3), [], False, "Succeeded"),
        (summary(total=3, succeeded=2, skipped=1), [], False, "Succeeded"),
        (summary(total=3, succeeded=2, failed=1), [], False, "PartiallySucceeded"),
        (summary(total=3, succeeded=2, timedOut=1), [], False, "PartiallySucceeded"),
        (
            summary(total=2, succeeded=2),
            [{"code": "AuthorizationFailed"}],
            False,
            "PartiallySucceeded",
        ),
        (summary(total=2, failed=2), [], False, "Failed"),
        (summary(total=0), [{"code": "NoServersMatched"}], False, "Failed"),
        (summary(total=0), [], False, "Failed"),
        (summary(total=2, skipped=2), [], False, "Failed"),
        (summary(total=4, succeeded=1, canceled=3), [], True, "Canceled"),
    ],
)
def test_run_outcome(
    counts: dict[str, int], problems: list[dict[str, Any]], canceled: bool, outcome: str
) -> None:
    assert report.run_outcome(counts, problems, canceled) == outcome


def test_the_report_carries_the_outcome_problems_and_breaker() -> None:
    rows = [report.server_row(rid("a"), report.SUCCEEDED)]
    built = report.build_report("exp-1", "t0", "t1", rows, problems=[{"code": "X"}])
    assert built["summary"]["outcome"] == "PartiallySucceeded"
    assert built["problems"] == [{"code": "X"}] and built["breaker"] is None
    assert "retryOf" not in built
