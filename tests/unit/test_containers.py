"""Container URLs without a SAS: what is taken, and why the rest is refused."""

from __future__ import annotations

import pytest

from mysqlexport.containers import ContainerUrl, container_url_problem, parse_container_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://backupsacct.blob.core.windows.net/mysql-backups",
            ContainerUrl(
                "https://backupsacct.blob.core.windows.net", "backupsacct", "mysql-backups"
            ),
        ),
        (
            "https://acct01.blob.core.chinacloudapi.cn/abc/",
            ContainerUrl("https://acct01.blob.core.chinacloudapi.cn", "acct01", "abc"),
        ),
        (
            "https://127.0.0.1:10000/devstoreaccount1/reports",
            ContainerUrl("https://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "reports"),
        ),
        (
            "http://localhost:10000/devstoreaccount1/reports",
            ContainerUrl("http://localhost:10000/devstoreaccount1", "devstoreaccount1", "reports"),
        ),
    ],
)
def test_container_urls_taken(url: str, expected: ContainerUrl) -> None:
    assert parse_container_url(url) == expected
    assert parse_container_url(url).url == f"{expected.account_url}/{expected.name}"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://acct.blob.core.windows.net/c1?sv=2025-11-05&sig=abc", "no query"),
        ("https://acct.blob.core.windows.net/c1#frag", "no query"),
        ("https://user:pw@acct.blob.core.windows.net/c1", "credentials"),
        ("http://acct.blob.core.windows.net/c1", "https"),
        ("https://acct.blob.core.windows.net/", "one container"),
        ("https://acct.blob.core.windows.net/a/b", "one container"),
        ("https://127.0.0.1:10000/backups", "path style"),  # Azurite's form needs the account
        ("https://acct.blob.core.windows.net/UPPER", "does not name a container"),
        ("https://acct.blob.core.windows.net/a--b", "does not name a container"),
        ("https://acct.blob.core.windows.net/ab", "does not name a container"),
        ("https://Not_An_Account.blob.core.windows.net/abc", "storage account"),
        ("ftp://acct.blob.core.windows.net/abc", "https"),
        ("not a url", "printable"),
        ("", "container URL"),
        (42, "container URL"),
    ],
)
def test_container_urls_refused_without_echoing_them(url: object, why: str) -> None:
    problem = container_url_problem(url)
    assert problem is not None and why in problem
    assert "sig=" not in problem and "pw" not in problem
