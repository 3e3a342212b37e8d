"""What a submission's answer says about earlier submissions of the same backup (pure rules)."""

from __future__ import annotations

from typing import Any

import pytest

from mysqlexport import submissions

RESET = {"code": "ConnectionError", "message": "reset", "transient": True}
CRASHED = {"code": "ActivityFailed", "message": "boom", "transient": True}
UNAVAILABLE = {"code": "ServiceUnavailable", "status": 503, "transient": True}
TIMEOUT_408 = {"code": "RequestTimeout", "status": 408, "transient": True}
NO_LOCATION = {"code": "BadArmResponse", "status": 202, "transient": False}
BUSY = {"code": "BackupAlreadyRunningForServer", "status": 409, "transient": False}
THROTTLED = {"code": "SubscriptionRequestsThrottled", "status": 429, "transient": True}
FORBIDDEN = {"code": "AuthorizationFailed", "status": 403, "transient": False}
STOPPED = {"code": "InvalidServerState", "status": 400, "transient": False}
DUPLICATE = {
    "code": "DuplicateBackupName",
    "message": "already requested",
    "status": 400,
    "requestId": "r-2",
    "transient": False,
}
UNTRUSTED = {"code": "UntrustedUrl", "message": "refusing", "transient": False}
#: Minting a container run's SAS failed: storage's answer, before any POST.
STORAGE_DOWN = {"code": "StorageUnreachable", "transient": True, "source": "storage"}
STORAGE_DENIED = {
    "code": "AuthorizationPermissionMismatch",
    "message": "getting a user delegation key: HTTP 403",
    "transient": False,
    "source": "storage",
}


@pytest.mark.parametrize(
    ("error", "started"),
    [
        (RESET, True),
        (CRASHED, True),
        (UNAVAILABLE, True),
        (TIMEOUT_408, True),
        (NO_LOCATION, True),
        (BUSY, False),
        (THROTTLED, False),
        (FORBIDDEN, False),
        (DUPLICATE, False),
        (UNTRUSTED, False),  # nothing was sent
        (STORAGE_DOWN, False),  # the SAS was never minted: nothing was sent
        (STORAGE_DENIED, False),
    ],
)
def test_which_answers_may_hide_an_accepted_export(error: dict[str, Any], started: bool) -> None:
    assert submissions.may_have_started(error) is started


@pytest.mark.parametrize(
    ("error", "refusal", "unknown"),
    [
        (FORBIDDEN, True, False),
        (STORAGE_DENIED, False, False),  # storage's refusal, not ARM's
        ({**STORAGE_DENIED, "status": 403}, False, False),
        (STOPPED, True, False),
        (DUPLICATE, True, True),
        ({"code": "InvalidParameterValue", "status": 400}, True, True),
        (BUSY, False, False),
        (THROTTLED, False, False),
        (TIMEOUT_408, False, False),
        (UNAVAILABLE, False, False),
        (RESET, False, False),
    ],
)
def test_which_refusals_the_app_knows(error: dict[str, Any], refusal: bool, unknown: bool) -> None:
    assert submissions.is_refusal(error) is refusal
    assert submissions.is_unknown_refusal(error) is unknown


def test_the_record_counts_every_unanswered_submission_and_names_the_first_few() -> None:
    record = None
    for attempt in range(1, 9):
        record = submissions.record_unanswered(record, attempt, UNAVAILABLE)

    assert record == {
        "count": 8,
        "attempts": [1, 2, 3, 4, 5],
        "last": "HTTP 503 ServiceUnavailable",
    }
    note = submissions.unanswered_only_note(record, "db1-2027")
    assert note["code"] == "SubmissionUnanswered"
    assert note["message"].startswith("8 submissions (1, 2, 3, 4, 5, ...) got no usable answer")


def test_an_unknown_refusal_after_a_lost_answer_says_what_is_open() -> None:
    record = submissions.record_unanswered(None, 1, RESET)

    error = submissions.outcome_unknown(DUPLICATE, 2, record, "db1-2027")

    assert error["code"] == "SubmissionOutcomeUnknown"
    assert "refused submission 2 with HTTP 400 DuplicateBackupName" in error["message"]
    assert "submission 1 got no usable answer (ConnectionError)" in error["message"]
    assert (
        "whether an export of backup 'db1-2027' is running or done is unknown" in (error["message"])
    )


def test_an_unknown_refusal_alone_names_the_at_least_once_delivery() -> None:
    error = submissions.outcome_unknown(DUPLICATE, 1, None, "db1-2027")

    assert "activities run at least once" in error["message"]


def test_the_note_of_a_followed_export_names_the_submission_and_its_request_id() -> None:
    record = submissions.record_unanswered(None, 1, RESET)

    note = submissions.unanswered_note(record, 2, "op-2", "db1-2027")

    assert "accepted by submission 2 (x-ms-request-id op-2)" in note["message"]
