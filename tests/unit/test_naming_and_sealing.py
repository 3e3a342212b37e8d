"""Backup name templates expand deterministically; sealed SAS lists open only with the key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mysqlexport.errors import InvalidRequest, SettingsError
from mysqlexport.ids import ServerId
from mysqlexport.naming import check_template, expand
from mysqlexport.sealing import Sealer, UnsealError

SERVER = ServerId("ffffffff-ffff-ffff-ffff-ffffffffffff", "Prod_Group.EU", "orders-db")
WHEN = datetime(2026, 11, 27, 3, 4, 5, tzinfo=UTC)
SAS = "https://acct.blob.core.windows.net/c?sv=1&sig=dG9wLXNlY3JldA%3D%3D"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{server}-{utc:yyyyMMddHHmmss}", "orders-db-20261127030405"),
        ("{server}", "orders-db"),
        ("nightly-{resourceGroup}-{utc:yyyy-MM-dd}", "nightly-prod-group-eu-2026-11-27"),
        ("x{utc:HHmm}", "x0304"),
    ],
)
def test_templates_expand_to_valid_names(template: str, expected: str) -> None:
    assert expand(check_template(template), SERVER, WHEN) == expected


@pytest.mark.parametrize("template", ["", "{server", "A-{server}", "{utc:yyyy/MM}", "{who}", "a_b"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(InvalidRequest):
        check_template(template)


def test_expansion_that_breaks_the_pattern_is_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        expand("{server}-", SERVER, WHEN)
    assert "orders-db-" in info.value.message


def test_sealed_list_round_trips_and_hides_the_signature() -> None:
    sealer = Sealer.from_setting(Sealer.new_key())
    sealed = sealer.seal([SAS, SAS])
    assert "dG9wLXNlY3JldA" not in sealed and sealed.startswith("sealed:v1:")
    opened = sealer.open(sealed)
    assert [u.reveal() for u in opened] == [SAS, SAS]
    assert "dG9wLXNlY3JldA" not in repr(opened)


def test_rotation_keeps_old_runs_readable() -> None:
    old, new = Sealer.new_key(), Sealer.new_key()
    sealed = Sealer.from_setting(old).seal([SAS])
    assert Sealer.from_setting(f"{new},{old}").open(sealed)[0].reveal() == SAS
    with pytest.raises(UnsealError):
        Sealer.from_setting(new).open(sealed)


def test_tampered_or_unsealed_values_are_refused() -> None:
    sealer = Sealer.from_setting(Sealer.new_key())
    sealed = sealer.seal([SAS])
    for bad in (SAS, sealed[:-4] + "AAAA", "sealed:v1:garbage"):
        with pytest.raises(UnsealError):
            sealer.open(bad)


@pytest.mark.parametrize("setting", [None, "", "not-a-key"])
def test_missing_or_bad_key_is_a_settings_error(setting: str | None) -> None:
    with pytest.raises(SettingsError) as info:
        Sealer.from_setting(setting)
    assert "SAS_SEALING_KEY" in info.value.problems
