"""What one submission's answer says about the submissions of the same backup before it.

A POST backupAndExport whose answer was lost may still have started an export: the POST timed
out or the connection dropped after it was sent, ARM answered 5xx after accepting it, or the
activity's result was lost after it ran (activities run at least once, so the host delivers
the submission again and the orchestrator sees only the second answer). The next submission
names the same backup, and ARM's contract does not say how the service answers a repeated
backup name whose export it accepted: the emulator's default (409 while that export runs, then
200 with its result) is one reading; a second 202 (a second export) or a 4xx the app does not
know are others. These rules keep the row truthful in each case; they are pure functions of
the error dicts the submit activity returns (``ArmError.to_dict``).

* ``may_have_started``: an answer that does not exclude an accepted export (no answer at all,
  408, 5xx, a 2xx the client could not use, the activity failed).
* ``is_unknown_refusal``: a 4xx the app cannot read as "this request alone was refused". Only
  refusals that depend on nothing an earlier identical request could have changed are known
  (``OWN_MERIT_REFUSALS``: the caller's rights, the scope existing, the request's shape, the
  server's own state); anything else may be how the service answers a repeat of a submission
  it accepted, even one the orchestrator never saw answered.
* ``outcome_unknown``: the row's note for such a refusal (code ``SubmissionOutcomeUnknown``);
  the row's error stays the refusal itself, with ARM's own code.
* ``unanswered_note``: the row's note when it follows an export accepted after a submission
  whose answer was lost (code ``SubmissionUnanswered``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mysqlexport.armspec import BACKUP, EXPORT
from mysqlexport.redaction import redact_text

#: The row's note code when the service refused a submission in a way the app does not know,
#: so an earlier submission of the same backup may have been accepted.
OUTCOME_UNKNOWN: Final = "SubmissionOutcomeUnknown"
#: The row's note code when an earlier submission of the backup got no usable answer.
UNANSWERED: Final = "SubmissionUnanswered"

#: ARM codes that refuse a request on its own merits: an identical request sent a moment earlier
#: met the same refusal, so after one of these an earlier submission whose answer was lost was
#: refused as well. Authentication and authorization, the scope and resource existing, the
#: request's form, and the server's own readiness (``InvalidServerState``,
#: ``InsufficientStorageContainers`` and ``ServerNotReady`` are the emulator's and the app's
#: names for it; the service documents none).
OWN_MERIT_REFUSALS: Final = frozenset(
    {
        "AuthenticationFailed",
        "InvalidAuthenticationToken",
        "InvalidAuthenticationTokenAudience",
        "InvalidAuthenticationTokenTenant",
        "ExpiredAuthenticationToken",
        "AuthorizationFailed",
        "LinkedAuthorizationFailed",
        "RequestDisallowedByPolicy",
        "SubscriptionNotFound",
        "InvalidSubscriptionId",
        "MissingSubscriptionRegistration",
        "ReadOnlyDisabledSubscription",
        "ResourceGroupNotFound",
        "ResourceNotFound",
        "ParentResourceNotFound",
        "MissingApiVersionParameter",
        "InvalidApiVersionParameter",
        "NoRegisteredProviderFound",
        "InvalidResourceType",
        "InvalidRequestContent",
        "MissingRequiredProperty",
        "UnsupportedMediaType",
        "InvalidServerState",
        "ServerNotReady",
        "InsufficientStorageContainers",
        # backupsV2: the server has used up its own on-demand backups (a repeat of the same
        # name is the same resource, so this refusal hides no accepted backup)
        "OnDemandBackupLimitExceeded",
    }
)

#: Statuses that answer "not now" or "conflict" and are waited out by the retry rules.
_WAITED_OUT: Final = frozenset({408, 409, 429})
#: How many unanswered attempts a row names (the count is always complete).
_NAMED: Final = 5


def may_have_started(error: Mapping[str, Any]) -> bool:
    """True when a submission that ended in ``error`` may still have been accepted. A failure
    of storage (``source: "storage"``: minting the SAS of a ``target.containers`` run) came
    before the POST, so nothing was sent."""
    if error.get("source") == "storage":
        return False
    status = _status(error)
    if status is None:
        # No answer: a transport failure (sent or not, nobody can tell) or the activity failed;
        # a permanent error without a status never left the app (no token, a refused URL).
        return bool(error.get("transient"))
    return status == 408 or status >= 500 or 200 <= status < 300


def is_refusal(error: Mapping[str, Any]) -> bool:
    """True for a 4xx that refuses the submission (not one of the waited-out 408, 409, 429);
    never for storage's refusal to mint a SAS, which came before the POST."""
    if error.get("source") == "storage":
        return False
    status = _status(error)
    return status is not None and 400 <= status < 500 and status not in _WAITED_OUT


def is_unknown_refusal(error: Mapping[str, Any]) -> bool:
    """True for a refusal the app does not know the meaning of (see module docstring)."""
    return is_refusal(error) and str(error.get("code")) not in OWN_MERIT_REFUSALS


def record_unanswered(
    record: Mapping[str, Any] | None, attempt: int, error: Mapping[str, Any]
) -> dict[str, Any]:
    """``record`` (JSON, bounded) with one more submission whose answer may hide an export."""
    attempts = list((record or {}).get("attempts") or [])
    if len(attempts) < _NAMED:
        attempts.append(attempt)
    return {
        "count": int((record or {}).get("count") or 0) + 1,
        "attempts": attempts,
        "last": _describe(error),
    }


def _work(operation: str, backup_name: str) -> str:
    """What one submission makes, in a note, after "an" or "another": an export of a backup,
    or an on-demand backup."""
    if operation == BACKUP:
        return f"on-demand backup '{backup_name}'"
    return f"export of backup '{backup_name}'"


def unanswered_note(
    record: Mapping[str, Any],
    accepted_attempt: int,
    request_id: str | None,
    backup_name: str,
    operation: str = EXPORT,
) -> dict[str, Any]:
    """The note of a row that follows the operation accepted by ``accepted_attempt``."""
    which = f" (x-ms-request-id {request_id})" if request_id else ""
    return {
        "code": UNANSWERED,
        "message": (
            f"{_earlier(record)} may have been accepted as well, so another "
            f"{_work(operation, backup_name)} may have run (ARM does not promise to refuse a "
            f"repeated backup name); this row follows the one accepted by submission "
            f"{accepted_attempt}{which}"
        ),
    }


def unanswered_only_note(
    record: Mapping[str, Any], backup_name: str, operation: str = EXPORT
) -> dict[str, Any]:
    """The note of a row that ends without an accepted operation (given up, timed out)."""
    return {
        "code": UNANSWERED,
        "message": (
            f"{_earlier(record)} may have been accepted, so an {_work(operation, backup_name)} "
            "may be running or done although this row reports none"
        ),
    }


def outcome_unknown(
    refusal: Mapping[str, Any],
    attempt: int,
    record: Mapping[str, Any] | None,
    backup_name: str,
    operation: str = EXPORT,
) -> dict[str, Any]:
    """The row's note for an unknown refusal (the row's error stays the refusal, ARM's own code):
    what the refusal leaves open."""
    if record:
        earlier = (
            f"{_earlier(record)} may have been accepted, and this refusal may be how the "
            "service answers a repeat of it"
        )
    else:
        earlier = (
            "the app does not know this refusal, and it may answer an earlier delivery of the "
            "same submission (activities run at least once: the request may have been sent before "
            "and accepted, its answer lost)"
        )
    message = (
        f"the service refused submission {attempt} with HTTP {refusal.get('status')} "
        f"{refusal.get('code')} - {earlier}; whether an {_work(operation, backup_name)} is "
        f"running or done is unknown: {_check(operation)}"
    )
    return {"code": OUTCOME_UNKNOWN, "message": redact_text(message)[:2000]}


def _check(operation: str) -> str:
    if operation == BACKUP:
        return "list the server's backups before backing it up again"
    return "check the target storage before exporting this server again"


def _status(error: Mapping[str, Any]) -> int | None:
    """The HTTP status the error carries, None when there was no answer."""
    status = error.get("status")
    return None if isinstance(status, bool) or not isinstance(status, int) else status


def _describe(error: Mapping[str, Any]) -> str:
    status = error.get("status")
    text = f"HTTP {status} {error.get('code')}" if status is not None else str(error.get("code"))
    return redact_text(text)[:200]


def _earlier(record: Mapping[str, Any]) -> str:
    count = int(record.get("count") or 0)
    attempts = [str(a) for a in record.get("attempts") or []]
    if count == 1 and attempts:
        return f"submission {attempts[0]} got no usable answer ({record.get('last')}) and"
    named = ", ".join(attempts) + (", ..." if count > len(attempts) else "")
    return (
        f"{count} submissions ({named}) got no usable answer (the last: {record.get('last')}) and"
    )
