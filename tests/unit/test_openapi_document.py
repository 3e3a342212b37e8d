"""api/openapi.json is a valid Swagger 2.0 document and says what the code does.

Swagger 2.0 (not OpenAPI 3) because Logic Apps custom connectors import 2.0. The live checks (every
route served is described, every answer conforms) are in tests/reliability/test_api_properties.py;
these tie the document's limits and patterns to the constants the code uses, so one cannot change
without the other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from mysqlexport.armspec import BACKUP_FORMATS
from mysqlexport.containers import MAX_URL_LENGTH
from mysqlexport.naming import DEFAULT_TEMPLATE, MAX_TEMPLATE_LENGTH
from mysqlexport.request import (
    MAX_CONCURRENCY,
    MAX_DEADLINE_MINUTES,
    MAX_RESOURCE_GROUPS,
    MAX_SAS_LENGTH,
    MAX_SAS_URIS,
    MAX_SERVERS,
    MAX_SUBSCRIPTIONS,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    SERVER_STATES,
    TARGET_FIELDS,
    TOP_LEVEL_FIELDS,
    parse_request,
)
from triggers.health import CHECK_NAMES
from triggers.listing import DEFAULT_TOP, MAX_TOP, NEXT_PAGE_PARAMETER, STATUSES
from triggers.retries import MAX_RETRIES, RETRY_FIELDS, parse_retry
from workflow.instance_ids import RUN_ID_SHAPE, new_run_id, retry_run_id

DOCUMENT = Path(__file__).resolve().parents[2] / "api" / "openapi.json"
ROUTES = {
    "/exports": {"get", "post"},
    "/exports/{runId}": {"get"},
    "/exports/{runId}/cancel": {"post"},
    "/exports/{runId}/retry-failed": {"post"},
    "/health": {"get"},
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_it_is_a_valid_swagger_2_document(doc: dict[str, Any]) -> None:
    validate(doc, cls=OpenAPIV2SpecValidator)
    assert doc["swagger"] == "2.0"
    assert doc["basePath"] == "/api"


def test_a_broken_document_is_refused(doc: dict[str, Any]) -> None:
    """The validator is not a no-op: a schema of an unknown type fails it."""
    broken = json.loads(json.dumps(doc))
    broken["definitions"]["ExportRequest"]["properties"]["dryRun"]["type"] = "flag"
    with pytest.raises(Exception, match="flag"):
        validate(broken, cls=OpenAPIV2SpecValidator)


def test_schemathesis_loads_every_route(doc: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_path(DOCUMENT)
    loaded = {(r.ok().path, r.ok().method) for r in schema.get_all_operations()}
    assert loaded == {(path, method) for path, methods in ROUTES.items() for method in methods}
    assert set(doc["paths"]) == set(ROUTES)


def test_the_function_key_is_the_security_scheme(doc: dict[str, Any]) -> None:
    schemes = doc["securityDefinitions"]
    assert {(s["type"], s["in"], s["name"]) for s in schemes.values()} == {
        ("apiKey", "header", "x-functions-key"),
        ("apiKey", "query", "code"),
    }
    assert doc["security"] == [{name: []} for name in schemes]  # either one


def test_the_answers_of_each_route(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    answers = {
        (path, method): set(paths[path][method]["responses"])
        for path, methods in ROUTES.items()
        for method in methods
    }
    assert answers == {
        ("/exports", "get"): {"200", "400", "401", "503"},
        ("/exports", "post"): {"202", "400", "401", "413", "500"},
        ("/exports/{runId}", "get"): {"200", "401", "404", "503"},
        ("/exports/{runId}/cancel", "post"): {"202", "401", "404", "409"},
        ("/exports/{runId}/retry-failed", "post"): {
            "202",
            "400",
            "401",
            "404",
            "409",
            "413",
            "500",
        },
        ("/health", "get"): {"200", "401", "503"},
    }
    for path, method in (("/exports", "post"), ("/exports/{runId}/retry-failed", "post")):
        started = paths[path][method]["responses"]["202"]
        assert started["schema"] == {"$ref": "#/definitions/CheckStatus"}
        assert set(started["headers"]) == {"Location", "Retry-After"}
    invalid = paths["/exports"]["post"]["responses"]["400"]["schema"]["$ref"]
    detail = doc["definitions"]["ErrorDetail"]["properties"]
    assert invalid == "#/definitions/ErrorResponse" and "details" in detail and "target" in detail


def test_the_run_id_pattern_is_the_one_the_routes_check(doc: dict[str, Any]) -> None:
    pattern = f"^{RUN_ID_SHAPE.pattern}$"
    for path in ROUTES:
        for parameter in doc["paths"][path].get("parameters", []):
            assert parameter["name"] == "runId"
            assert parameter["pattern"] == pattern
            assert re.fullmatch(RUN_ID_SHAPE, parameter["x-example"])
    assert doc["definitions"]["CheckStatus"]["properties"]["id"]["pattern"] == pattern
    assert doc["definitions"]["RunListItem"]["properties"]["runId"]["pattern"] == pattern
    assert doc["definitions"]["ErrorDetail"]["properties"]["runId"]["pattern"] == pattern
    for attempt in (1, 2, MAX_RETRIES):
        assert re.fullmatch(pattern, retry_run_id(new_run_id("sched"), attempt))
    assert re.search(pattern, new_run_id()) and re.search(pattern, new_run_id("sched"))


def test_the_request_schema_has_the_validators_fields_and_limits(doc: dict[str, Any]) -> None:
    request = doc["definitions"]["ExportRequest"]
    fields = request["properties"]
    assert set(fields) == TOP_LEVEL_FIELDS
    assert request["additionalProperties"] is False  # unknown fields are refused
    assert fields["servers"]["maxItems"] == MAX_SERVERS
    assert fields["backupName"]["maxLength"] == MAX_TEMPLATE_LENGTH
    assert fields["backupName"]["default"] == DEFAULT_TEMPLATE
    assert tuple(fields["backupFormat"]["enum"]) == BACKUP_FORMATS
    assert fields["maxConcurrency"]["maximum"] == MAX_CONCURRENCY
    assert fields["deadlineMinutes"]["maximum"] == MAX_DEADLINE_MINUTES
    discovery = doc["definitions"]["Discovery"]["properties"]
    assert discovery["subscriptions"]["maxItems"] == MAX_SUBSCRIPTIONS
    assert discovery["resourceGroups"]["maxItems"] == MAX_RESOURCE_GROUPS
    assert discovery["tags"]["maxProperties"] == MAX_TAGS
    assert discovery["tags"]["additionalProperties"]["maxLength"] == MAX_TAG_LENGTH
    assert discovery["states"]["maxItems"] == len(SERVER_STATES)
    sas = doc["definitions"]["Target"]["properties"]["sasUriList"]
    assert (sas["maxItems"], sas["items"]["maxLength"]) == (MAX_SAS_URIS, MAX_SAS_LENGTH)
    target = doc["definitions"]["Target"]
    assert set(target["properties"]) == set(TARGET_FIELDS)
    # exactly one of the two (Swagger 2.0 has no oneOf)
    assert (target["minProperties"], target["maxProperties"]) == (1, 1)
    containers = target["properties"]["containers"]
    assert (containers["maxItems"], containers["items"]["maxLength"]) == (
        MAX_SAS_URIS,
        MAX_URL_LENGTH,
    )


def test_the_example_request_names_containers_not_a_sas(doc: dict[str, Any]) -> None:
    request = parse_request(doc["definitions"]["ExportRequest"]["example"])
    assert request.containers and not request.sas_uris


def test_the_example_request_is_valid(doc: dict[str, Any]) -> None:
    example = doc["definitions"]["ExportRequest"]["example"]
    request = parse_request(example)
    assert request.dry_run  # the example starts nothing heavier than validateBackup


def _parameters(doc: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in doc["paths"][path][method].get("parameters", [])}


def test_the_list_parameters_are_the_ones_the_route_reads(doc: dict[str, Any]) -> None:
    listing = doc["paths"]["/exports"]["get"]
    parameters = _parameters(doc, "/exports", "get")
    assert set(parameters) == {
        "runtimeStatus",
        "createdTimeFrom",
        "createdTimeTo",
        "top",
        NEXT_PAGE_PARAMETER,
    }
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    status = parameters["runtimeStatus"]
    assert status["collectionFormat"] == "csv" and status["items"]["enum"] == list(STATUSES)
    top = parameters["top"]
    assert (top["minimum"], top["maximum"], top["default"]) == (1, MAX_TOP, DEFAULT_TOP)
    assert parameters["createdTimeFrom"]["format"] == parameters["createdTimeTo"]["format"]
    assert parameters["createdTimeFrom"]["format"] == "date-time"
    # Logic Apps (and AutoRest) follow a page's nextLink with x-ms-pageable
    assert listing["x-ms-pageable"] == {"nextLinkName": "nextLink"}
    page = doc["definitions"]["RunList"]["properties"]
    assert {"value", "nextLink", NEXT_PAGE_PARAMETER} <= set(page)


def test_the_retry_body_takes_what_the_route_takes(doc: dict[str, Any]) -> None:
    retry = doc["paths"]["/exports/{runId}/retry-failed"]["post"]
    (body,) = retry["parameters"]
    assert body["in"] == "body" and body["required"] is False
    schema = doc["definitions"]["RetryRequest"]
    assert set(schema["properties"]) == RETRY_FIELDS and schema["additionalProperties"] is False
    assert schema["properties"]["target"] == {"$ref": "#/definitions/Target"}
    assert str(MAX_RETRIES) in retry["responses"]["409"]["description"]


def test_the_retry_example_is_a_valid_retry(doc: dict[str, Any]) -> None:
    example = doc["definitions"]["RetryRequest"]["example"]
    assert parse_retry(example, has_body=True).target is not None


def test_the_health_checks_are_the_ones_the_route_runs(doc: dict[str, Any]) -> None:
    check = doc["definitions"]["HealthCheck"]["properties"]["name"]
    assert tuple(check["enum"]) == CHECK_NAMES
    answers = doc["paths"]["/health"]["get"]["responses"]
    assert answers["200"]["schema"] == answers["503"]["schema"]
    assert "security" not in doc["paths"]["/health"]["get"]  # the function key, as every route
