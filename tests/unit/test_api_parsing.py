"""What the HTTP routes read and write, without a host: the list's query parameters and its
continuation token, the retry's body and ids, times in UTC with a ``Z``, the health answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from mysqlexport.errors import InvalidRequest
from mysqlexport.request import MAX_SAS_URIS
from triggers.health import Check, health_body
from triggers.listing import (
    DEFAULT_TOP,
    MAX_TOP,
    MIN_SLICE_SECONDS,
    Cursor,
    parse_run_query,
    parse_time,
)
from triggers.responses import row_times_in_utc, utc_time
from triggers.retries import MAX_RETRIES, parse_retry
from workflow.instance_ids import is_run_id, new_run_id, retry_run_id

SAS = "https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig=c2lnbmF0dXJl"

# --- times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(2026, 11, 29, 4, 7, 22, tzinfo=UTC), "2026-11-29T04:07:22Z"),
        (datetime(2026, 11, 29, 4, 7, 22), "2026-11-29T04:07:22Z"),  # naive: UTC
        (
            datetime(2026, 11, 29, 5, 7, 22, 500000, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-29T04:07:22.500000Z",
        ),
        ("2026-11-29 04:07:22+00:00", "2026-11-29T04:07:22Z"),  # what str(datetime) gave
        ("2026-11-29T04:07:22.1234567+00:00", "2026-11-29T04:07:22.123456Z"),  # ARM's seven
        ("2026-11-29T06:07:22+02:00", "2026-11-29T04:07:22Z"),
        ("2026-11-29T04:07:22.000000Z", "2026-11-29T04:07:22.000000Z"),  # already so: as given
        ("not a time", "not a time"),
        ("0001-01-01T00:00:10+09:00", "0001-01-01T00:00:10+09:00"),  # before the year 1 in UTC
        (None, None),
    ],
)
def test_times_are_written_in_utc_with_z(
    given: datetime | str | None, expected: str | None
) -> None:
    assert utc_time(given) == expected


def test_a_rows_times_and_its_backups_are_written_in_utc() -> None:
    row = {
        "id": "x",
        "startTime": "2026-11-29T05:00:00+01:00",
        "endTime": None,
        "backup": {"completedTime": "2026-11-29T04:30:00+00:00", "name": "b"},
    }
    out = row_times_in_utc(row)
    assert out["startTime"] == "2026-11-29T04:00:00Z" and out["endTime"] is None
    assert out["backup"] == {"completedTime": "2026-11-29T04:30:00Z", "name": "b"}
    assert row["startTime"] == "2026-11-29T05:00:00+01:00"  # a copy


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T04:07:22Z",
        "2026-11-29t04:07:22z",
        "2026-11-29T04:07:22.1234567Z",
        "2026-11-29T06:07:22+02:00",
        "2026-11-29T04:07:22.5-00:00",
    ],
)
def test_rfc_3339_date_times_are_read(text: str) -> None:
    moment = parse_time(text)
    assert moment.tzinfo is not None
    assert moment.replace(microsecond=0) == datetime(2026, 11, 29, 4, 7, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29",
        "2026-11-29T04:07:22",  # no zone
        "2026-11-29 04:07:22Z",
        "2026-13-01T00:00:00Z",
        "2026-11-29T04:07:60Z",  # a leap second: RFC 3339's, not a datetime
        "yesterday",
        "",
        "\uff12\uff10\uff12\uff16-11-29T04:07:22Z",  # fullwidth digits
        "0001-01-01T00:00:10+09:00",  # before the year 1 in UTC (a fuzzer found it a 500)
        "0000-01-01T00:00:00Z",
    ],
)
def test_other_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


# --- the list's parameters and token ---------------------------------------------------------


def test_no_parameters_list_the_newest_runs() -> None:
    query = parse_run_query({})
    assert (query.statuses, query.created_from, query.created_to) == (frozenset(), None, None)
    assert (query.top, query.cursor) == (DEFAULT_TOP, None)


def test_the_parameters_are_read() -> None:
    token = Cursor(datetime(2026, 11, 29, tzinfo=UTC), new_run_id(), 7200.0).encode()
    query = parse_run_query(
        {
            "runtimeStatus": "Running,Completed",
            "createdTimeFrom": "2026-11-01T00:00:00Z",
            "createdTimeTo": "2026-11-30T00:00:00+01:00",
            "top": str(MAX_TOP),
            "continuationToken": token,
            "code": "the function key, not the route's",
        }
    )
    assert query.statuses == {
        OrchestrationRuntimeStatus.Running,
        OrchestrationRuntimeStatus.Completed,
    }
    assert query.created_to == datetime(2026, 11, 29, 23, tzinfo=UTC)
    assert query.top == MAX_TOP and query.cursor == Cursor.decode(token)


def test_bad_parameters_are_named_together() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_run_query(
            {
                "runtimeStatus": "running",  # the names are case-sensitive, as documented
                "createdTimeFrom": "2026-11-30T00:00:00Z",
                "createdTimeTo": "2026-11-29T00:00:00Z",
                "top": "+5",
                "continuationToken": "e30",  # {}
            }
        )
    assert set(caught.value.problems) == {
        "runtimeStatus",
        "createdTimeTo",
        "top",
        "continuationToken",
    }


@pytest.mark.parametrize("top", ["0", "101", "-1", "1.0", "", "1e2", " 5"])
def test_top_is_a_whole_number_in_range(top: str) -> None:
    with pytest.raises(InvalidRequest, match="top"):
        parse_run_query({"top": top})


@pytest.mark.parametrize("statuses", ["", ",", "Running,", "Bogus"])
def test_every_status_named_must_be_one(statuses: str) -> None:
    with pytest.raises(InvalidRequest, match="runtimeStatus"):
        parse_run_query({"runtimeStatus": statuses})


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(None, "", 3600.0),
        Cursor(datetime(2026, 11, 29, 4, 7, 22, tzinfo=UTC), "exp-0123456789abcdef0123", 60.0),
        Cursor(datetime(2026, 11, 29, 4, 7, 22, 123456, tzinfo=UTC), "", MIN_SLICE_SECONDS),
    ],
)
def test_a_token_gives_back_its_cursor(cursor: Cursor) -> None:
    token = cursor.encode()
    assert token.isascii() and "=" not in token and "+" not in token and "/" not in token
    assert Cursor.decode(token) == cursor


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "bnVsbA",  # null
        Cursor(None, "", 3600.0).encode()[:-2],
        # a shard's id is not a run's
        Cursor(None, "exp-0123456789abcdef0123:shard:0000", 60.0).encode(),
        Cursor(None, "", 0.001).encode(),  # narrower than any slice
    ],
)
def test_a_token_the_api_did_not_give_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        Cursor.decode(token)


# --- retries ---------------------------------------------------------------------------------


def test_retry_ids_are_run_ids_fixed_per_run_and_attempt() -> None:
    run = new_run_id("sched")
    ids = [retry_run_id(run, n) for n in range(1, MAX_RETRIES + 1)]
    assert all(is_run_id(i) and i.startswith("exp-") for i in ids)
    assert len(set(ids)) == MAX_RETRIES
    assert ids == [retry_run_id(run, n) for n in range(1, MAX_RETRIES + 1)]  # the same again
    assert retry_run_id(new_run_id(), 1) != ids[0]


def test_no_retry_body_and_an_empty_object_keep_the_target() -> None:
    assert parse_retry(None, has_body=False).target is None
    assert parse_retry({}, has_body=True).target is None


def test_a_new_target_is_validated_as_a_request_target() -> None:
    asked = parse_retry(
        {"target": {"sasUriList": [SAS, SAS.replace("backups", "b2")]}}, has_body=True
    )
    assert asked.target is not None and len(asked.target.sas_uris) == 2
    assert SAS not in repr(asked)  # SecretUri: never shown


def test_a_new_target_may_be_containers_whatever_the_runs_own_target_was() -> None:
    container = "https://acct.blob.core.windows.net/backups"
    asked = parse_retry({"target": {"containers": [container]}}, has_body=True)
    assert asked.target is not None and asked.target.containers == (container,)
    assert asked.target.count == 1


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (None, {"body"}),  # JSON null, sent
        ([], {"body"}),
        ("garbage", {"body"}),
        ({"servers": []}, {"servers"}),
        ({"target": None}, {"target"}),
        ({"target": {"sasUriList": ["http://acct/c?sig=x"]}}, {"target.sasUriList[0]"}),
        ({"target": {"sasUriList": [SAS] * (MAX_SAS_URIS + 1)}}, {"target.sasUriList"}),
        ({"target": {"sasUriList": [SAS], "more": 1}, "x": 2}, {"target.more", "x"}),
        ({"target": {"containers": [SAS]}}, {"target.containers[0]"}),
        (
            {"target": {"containers": ["https://a.blob.core.windows.net/c1"], "sasUriList": [SAS]}},
            {"target"},
        ),
    ],
)
def test_a_retry_body_it_does_not_take_is_refused_by_name(body: object, named: set[str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_retry(body, has_body=True)
    assert set(caught.value.problems) == named
    assert "c2lnbmF0dXJl" not in caught.value.message  # no signature comes back


# --- health ----------------------------------------------------------------------------------


def test_health_is_200_when_every_check_passed() -> None:
    body, status = health_body([Check("settings", True, "ok"), Check("arm", True, "ok")])
    assert status == 200 and body["status"] == "Healthy" and "error" not in body


def test_health_is_503_naming_each_failed_check() -> None:
    checks = [
        Check("settings", True, "ok"),
        Check("armToken", False, "no token", "CredentialUnavailable"),
        Check("arm", False, "not checked: no token", "NotChecked"),
    ]
    body, status = health_body(checks)
    assert status == 503 and body["status"] == "Unhealthy"
    assert [c["name"] for c in body["checks"]] == ["settings", "armToken", "arm"]
    assert body["error"]["code"] == "Unhealthy"
    assert [(d["target"], d["code"]) for d in body["error"]["details"]] == [
        ("armToken", "CredentialUnavailable"),
        ("arm", "NotChecked"),
    ]
