"""The deployment (azure.yaml, infra/*.bicep) checked here, without Azure.

Every Bicep file is parsed with pycep-parser (a Python Bicep parser; no Bicep compiler, no ARM).
From the parsed files these tests prove that:

* every app setting the deployed code reads (found in its source, not listed by hand) is set by
  the Bicep or documented as optional in the README's "Settings" table, every setting of that
  table is set, and the values the Bicep writes are the code's own defaults;
* the role assigned to the app's identity is the least-privilege role ``test_least_privilege``
  holds to the ARM client's calls: the Bicep loads it from that very JSON file (so the two cannot
  drift), names no action of its own and grants the identity nothing else outside its own
  resource group;
* no secret is a plain parameter default: ``@secure()`` parameters have none, the parameters file
  maps them from the environment only, and the secrets reach the app as Key Vault references;
* the Azure Verified Modules get the security settings checkov cannot see (it does not open
  registry modules: ``make infra-check`` scans the resources written here).

Nothing here models Azure: the facts the Bicep must honour are cited where they are used.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from mysqlexport.settings import Settings
from tests.reliability.test_least_privilege import ROLE

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
API = INFRA / "app" / "api.bicep"
README = ROOT / "README.md"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

#: Settings the code reads that the platform provides or that only apply elsewhere: App Service
#: sets IDENTITY_ENDPOINT / IDENTITY_HEADER for managed identities (MSI_ENDPOINT / MSI_SECRET are
#: their older names); AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and IMDS_ENDPOINT configure
#: azure-identity's workload-identity and VM credentials, unused in a Function app. The code reads
#: them only to key its credential cache (mysqlexport/arm.py, IDENTITY_ENVIRONMENT).
PLATFORM_PROVIDED = frozenset(
    {
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
    }
)

#: App settings the Flex Consumption plan deprecates or rejects (Microsoft Learn, "App settings
#: reference for Azure Functions", Flex Consumption plan deprecations): the runtime, its version
#: and the package location are functionAppConfig properties there; one language worker process
#: runs per instance (azure-functions-host#9832).
FLEX_DEPRECATED = frozenset(
    {
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "FUNCTIONS_WORKER_PROCESS_COUNT",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_CONTENTSHARE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "SCM_DO_BUILD_DURING_DEPLOYMENT",
        "ENABLE_ORYX_BUILD",
        "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    }
)

#: The built-in roles the Bicep grants inside the app's own resource group, by role definition id
#: (Azure built-in roles reference), each on one resource. Microsoft's Flex Consumption templates
#: grant the first four to the app identity (Azure-Samples/durable-functions-quickstart-python-azd
#: infra/app/rbac.bicep); the scheduler's is durable-functions-order-processing-python's; Blob Data
#: Contributor is the identity's on the report container (issue 14); Key Vault Secrets User is the
#: optional Logic App's on the function key's secret alone (logicapps/README.md).
BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "0ad04412-c4d5-4796-b79c-f76d14c8d402": "Durable Task Data Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
}
#: What the identity gets on each target storage account of ``target.containers``: a user
#: delegation key needs Storage Blob Delegator, and a user-delegation SAS grants only what the
#: signer's RBAC data role also grants ("The permissions granted by a user delegation SAS are the
#: intersection of the permissions granted by the SAS token and the RBAC permissions granted to
#: the security principal that requested the user delegation key": Microsoft Learn, "Create a
#: user delegation SAS"), so a SAS that writes backup files needs a data role that writes.
TARGET_STORAGE_ROLES = {
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a": "Storage Blob Delegator",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
}
#: Key Vault roles, given to the AVM vault module by name.
VAULT_ROLES = {"Key Vault Secrets User", "Key Vault Secrets Officer"}

SECRET_NAME = re.compile(r"secret|password|token|sealing|connectionstring", re.IGNORECASE)
#: An app setting resolved in a binding attribute or host.json (``%EXPORT_SCHEDULE%``).
BINDING_EXPRESSION = re.compile(r"%([A-Za-z_][\w.]*)%")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
KEY_VAULT_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\(VaultName=\$\{keyVaultName\};SecretName=([\w-]+)\)$"
)


# --- parsing ----------------------------------------------------------------------------------


@cache
def bicep(path: Path) -> dict[str, Any]:
    """One Bicep file as pycep-parser's JSON (raises on anything it cannot parse)."""
    return BicepParser().parse(file_path=path)  # type: ignore[return-value]


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def dotted(node: Any) -> str | None:
    """``a.b.c`` for pycep's nested property accessors (and a bare name), else None."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "property_accessor":
        operands = node["operator"]["operands"]
        head, tail = dotted(operands["operand_1"]), dotted(operands["operand_2"])
        return f"{head}.{tail}" if head and tail else None
    return None


def unquote(key: str) -> str:
    return key[1:-1] if key.startswith("'") and key.endswith("'") else key


def walk(node: Any) -> Iterator[Any]:
    """Every value in a parsed tree, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def names(parsed: dict[str, Any]) -> set[str]:
    """Names declared in a file: parameters, variables, resources, modules."""
    return {
        name
        for section in ("parameters", "variables", "resources", "modules")
        for name in parsed.get(section, {})
    }


def body(config: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's body, inside its ``if (...)`` when it has one."""
    return config["config"] if "condition" in config else config  # type: ignore[no-any-return]


def is_secure(parameter: dict[str, Any]) -> bool:
    return any(d.get("type") == "secure" for d in parameter.get("decorators", []))


def load_json_path(parsed: dict[str, Any], variable: str, source: Path) -> Path:
    """The file a ``var x = loadJsonContent('...')`` loads, resolved as Bicep does: from the
    directory of the file that calls it."""
    function = parsed["variables"][variable]["value"]["function"]
    assert function["type"] == "load_json_content", f"{variable} is not loadJsonContent(...)"
    assert function["parameters"]["json_path"] is None, "the whole file, not a part of it"
    return (source.parent / function["parameters"]["file_path"]).resolve()


def site_module() -> dict[str, Any]:
    sites = [
        m
        for m in bicep(API)["modules"].values()
        if m["type"] == "bicep_registry_alias" and m["detail"]["path"] == "avm/res/web/site"
    ]
    assert len(sites) == 1, "one Function app"
    return sites[0]["config"]["params"]  # type: ignore[no-any-return]


@cache
def app_settings() -> dict[str, Any]:
    """Every app setting the Bicep writes: the object of each variable merged into the site's
    ``appSettingsKeyValuePairs`` (both branches of a condition), by name."""
    parsed = bicep(API)
    merged = site_module()["appSettingsKeyValuePairs"]["function"]
    assert merged["type"] == "union"
    settings: dict[str, Any] = {}
    for argument in merged["parameters"].values():
        if argument in parsed["parameters"]:
            # Only the operator's overrides come in as a parameter: an empty object by default.
            assert argument == "appSettingsOverrides", argument
            continue
        value = parsed["variables"][argument]["value"]
        branches = (
            list(value["operator"]["operands"].values())[1:]
            if isinstance(value, dict) and value.get("operator", {}).get("type") == "conditional"
            else [value]
        )
        for branch in branches:
            assert isinstance(branch, dict), f"{argument}: an object of settings"
            for key, setting in branch.items():
                settings[unquote(key)] = setting
    return settings


def literal(value: Any) -> str | None:
    """The string a setting is set to when it is a plain literal (not a reference to a parameter
    or variable of api.bicep, not an interpolation), else None."""
    if not isinstance(value, str) or "${" in value or value in names(bicep(API)):
        return None
    return value


# --- what the code reads ----------------------------------------------------------------------


def product_paths() -> list[Path]:
    """What is deployed: the paths .funcignore re-includes (its ``!/name`` lines)."""
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    included = {line[2:].split("/")[0] for line in lines if line.startswith("!/")}
    assert "function_app.py" in included and "host.json" in included
    return sorted(ROOT / name for name in included)


def product_sources() -> list[Path]:
    files: list[Path] = []
    for path in product_paths():
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.suffix == ".py":
            files.append(path)
    return files


def _module_constant(module: ast.Module, name: str) -> Any:
    for statement in module.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            assert statement.value is not None
            return ast.literal_eval(statement.value)
    raise LookupError(name)


def _loop_values(module: ast.Module, parents: dict[ast.AST, ast.AST], use: ast.Name) -> list[str]:
    """The values a loop variable takes, where the loop runs over a module-level constant
    (``for name in TABLE`` or ``for setting, field, parse in TABLE``)."""
    node: ast.AST | None = use
    while node is not None:
        loops: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
            loops = [(g.target, g.iter) for g in node.generators]
        elif isinstance(node, ast.For):
            loops = [(node.target, node.iter)]
        for target, iterable in loops:
            if isinstance(target, ast.Name) and target.id == use.id:
                index = None
            elif isinstance(target, ast.Tuple) and any(
                isinstance(t, ast.Name) and t.id == use.id for t in target.elts
            ):
                index = next(
                    i
                    for i, t in enumerate(target.elts)
                    if isinstance(t, ast.Name) and t.id == use.id
                )
            else:
                continue
            assert isinstance(iterable, ast.Name), f"loop over {ast.dump(iterable)}"
            table = _table(module, iterable.id)
            return [row if index is None else row[index] for row in table]
        node = parents.get(node)
    raise LookupError(use.id)


def _table(module: ast.Module, name: str) -> list[Any]:
    """A module-level tuple of setting names or of rows whose first items are (the readers in the
    rows are not literals, so only the leading names are taken)."""
    for statement in module.body:
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = statement.value  # type: ignore[union-attr]
            assert isinstance(value, ast.Tuple | ast.List), name
            rows: list[Any] = []
            for element in value.elts:
                if isinstance(element, ast.Constant):
                    rows.append(element.value)
                else:
                    assert isinstance(element, ast.Tuple), name
                    rows.append(
                        [e.value if isinstance(e, ast.Constant) else None for e in element.elts]
                    )
            return rows
    raise LookupError(name)


def _is_environment(node: ast.expr) -> bool:
    """``os.environ``, or a name the product binds to it (``env``, ``environ``)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id in {"env", "environ"}
    )


@cache
def settings_read_by_code() -> dict[str, str]:
    """Every setting the deployed code reads, with where: ``os.environ.get/[...]``,
    ``os.getenv`` and ``env.get`` calls, their names resolved through module constants and loops
    over module tables, plus every ``%SETTING%`` in a decorator (a binding attribute, which the
    host resolves from the app settings) or in host.json."""
    found: dict[str, str] = {}
    unresolved: list[str] = []
    for path in product_sources():
        source = path.read_text(encoding="utf-8")
        module = ast.parse(source)
        parents = {
            child: parent for parent in ast.walk(module) for child in ast.iter_child_nodes(parent)
        }
        where = path.relative_to(ROOT)
        for node in ast.walk(module):
            argument: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                function = node.func
                if isinstance(function, ast.Attribute) and (
                    (function.attr == "get" and _is_environment(function.value))
                    or function.attr == "getenv"
                ):
                    argument = node.args[0]
            elif isinstance(node, ast.Subscript) and _is_environment(node.value):
                argument = node.slice
            if argument is None:
                continue
            place = f"{where}:{node.lineno}"
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.setdefault(argument.value, place)
            elif isinstance(argument, ast.Name):
                try:
                    values = [_module_constant(module, argument.id)]
                except LookupError:
                    try:
                        values = _loop_values(module, parents, argument)
                    except LookupError:
                        unresolved.append(f"{place} ({argument.id})")
                        continue
                for value in values:
                    found.setdefault(value, place)
            else:
                unresolved.append(f"{place} ({ast.unparse(argument)})")
        for decorated in ast.walk(module):
            if not isinstance(decorated, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in decorated.decorator_list:
                for constant in ast.walk(decorator):
                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                        for match in BINDING_EXPRESSION.finditer(constant.value):
                            found.setdefault(match.group(1), f"{where}:{constant.lineno} (binding)")
    host = (ROOT / "host.json").read_text(encoding="utf-8")
    for match in BINDING_EXPRESSION.finditer(host):
        found.setdefault(match.group(1), "host.json")
    assert not unresolved, f"settings read through names this test cannot resolve: {unresolved}"
    return found


@cache
def readme_settings() -> dict[str, str]:
    """The README's "Settings" table: setting -> its default as written (``—`` when required)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        settings = re.findall(r"`([^`]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(" / ")]
        if len(defaults) != len(settings):
            defaults = [cells[1]] * len(settings)
        for setting, default in zip(settings, defaults, strict=True):
            table[setting] = default
    assert table, "the README has a Settings table"
    return table


def required_in_readme(default: str) -> bool:
    return "required" in default


# --- the files parse --------------------------------------------------------------------------


def test_every_bicep_file_parses_and_is_used() -> None:
    files = bicep_files()
    assert MAIN in files and API in files
    referenced = {MAIN}
    for path in files:
        for module in bicep(path).get("modules", {}).values():
            if module["type"] == "local":
                target = (path.parent / module["detail"]["path"]).resolve()
                assert target.is_file(), f"{path.name}: module {target} does not exist"
                referenced.add(target)
    assert set(files) == referenced, f"not deployed by main.bicep: {set(files) - referenced}"


def test_azure_verified_modules_are_pinned_and_listed_in_the_guide() -> None:
    """Every registry module is an AVM from the public registry at an exact version, one version
    per module, and the deployment guide names each with its version."""
    pinned: dict[str, str] = {}
    for path in bicep_files():
        for module in bicep(path).get("modules", {}).values():
            if module["type"] == "local":
                continue
            detail = module["detail"]
            assert module["type"] == "bicep_registry_alias" and detail["alias"] == "public"
            assert detail["path"].startswith("avm/res/"), detail
            assert SEMVER.match(detail["tag"]), f"{detail['path']} is not pinned: {detail['tag']}"
            assert pinned.setdefault(detail["path"], detail["tag"]) == detail["tag"]
    guide = DEPLOY_DOC.read_text(encoding="utf-8")
    for path, tag in pinned.items():
        assert f"`{path}:{tag}`" in guide, f"docs/deploy.md does not list {path}:{tag}"


def test_azure_yaml_deploys_the_repository_root_as_the_function_app_the_bicep_tags() -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (service_name, service), *others = project["services"].items()
    assert not others
    assert service == {"project": ".", "language": "python", "host": "function"}
    # azd finds the app to deploy by this tag (azd-service-name = the service's name).
    tags = site_module()["tags"]["function"]["parameters"]["arg_2"]
    assert tags == {"'azd-service-name'": service_name}


# --- (a) every setting the code reads ---------------------------------------------------------


def test_every_setting_the_code_reads_is_set_or_documented_optional() -> None:
    read = settings_read_by_code()
    # The scan finds what it must (a guard against a scan that finds nothing).
    assert {"SAS_SEALING_KEY", "EXPORT_SCHEDULE", "MAX_CONCURRENCY", "AZURE_CLIENT_ID"} <= set(read)
    documented_optional = {s for s, d in readme_settings().items() if not required_in_readme(d)}
    missing = {
        setting: where
        for setting, where in read.items()
        if setting not in app_settings()
        and setting not in documented_optional
        and setting not in PLATFORM_PROVIDED
    }
    assert not missing, (
        f"read by the code, neither set by infra/ nor optional in the README: {missing}"
    )


def test_every_setting_of_the_readme_table_is_set_and_the_required_ones_in_particular() -> None:
    table = readme_settings()
    assert {s for s, d in table.items() if required_in_readme(d)} == {
        "SAS_SEALING_KEY",
        "EXPORT_SCHEDULE",
    }
    assert not set(table) - set(app_settings()), "the README's settings the Bicep does not set"


def test_the_values_are_the_defaults_of_the_code_and_the_readme() -> None:
    settings = app_settings()
    literals = {k: text for k, v in settings.items() if (text := literal(v)) is not None}
    # The app's own reader takes the Bicep's literals to exactly its defaults (ARM_ENDPOINT and
    # ARM_SCOPE are this cloud's, checked below).
    assert Settings.from_env(literals) == Settings()
    readme = readme_settings()
    words = {"on": "true", "empty": ""}
    compared = 0
    for setting, default in readme.items():
        if required_in_readme(default) or setting not in literals:
            continue
        # A default the table writes as one value (`30`, on, empty); prose is left to the
        # Settings comparison above.
        value = re.fullmatch(r"`([^`]*)`", default)
        if value is None and default not in words:
            continue
        expected = value.group(1) if value else words[default]
        compared += 1
        assert literals[setting] == expected, (
            f"{setting}: {literals[setting]!r}, README {default!r}"
        )
    assert compared >= 10, "the README's defaults were compared"


def test_arm_is_this_clouds_resource_manager() -> None:
    """The README's defaults in the public cloud; a sovereign cloud's own ARM elsewhere."""
    accessor = bicep(API)["variables"]["resourceManager"]["value"]["operator"]["operands"]
    assert accessor["operand_1"] == {"function": {"type": "environment"}}
    assert accessor["operand_2"] == "resourceManager"
    assert app_settings()["ARM_ENDPOINT"] == "armEndpoint"
    assert app_settings()["ARM_SCOPE"] == "${armEndpoint}/.default"


def test_the_platform_settings_flex_consumption_needs() -> None:
    settings = app_settings()
    # Identity-based host storage (the durable task hub's too), the account's own endpoints.
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        value = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert dotted(value) == f"storageAccount.properties.primaryEndpoints.{service}"
    assert "AzureWebJobsStorage" not in settings, "no connection string: shared keys are off"
    # Entra-authenticated telemetry (App Insights local auth is off).
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identityClientId};Authorization=AAD"
    )
    assert not FLEX_DEPRECATED & set(settings)


def test_the_worker_gets_a_thread_for_each_function_the_host_runs_at_once() -> None:
    """README: PYTHON_THREADPOOL_THREAD_COUNT = host.json's activities + orchestrators at once."""
    durable = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"][
        "durableTask"
    ]
    expected = (
        durable["maxConcurrentActivityFunctions"] + durable["maxConcurrentOrchestratorFunctions"]
    )
    assert app_settings()["PYTHON_THREADPOOL_THREAD_COUNT"] == str(expected)


def test_the_schedule_is_off_unless_asked_for_and_names_the_timer_function() -> None:
    settings = app_settings()
    disabled = [k for k in settings if k.startswith("AzureWebJobs.") and k.endswith(".Disabled")]
    timers = {
        node.name
        for path in product_sources()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any("timer_trigger" in ast.unparse(d) for d in node.decorator_list)
    }
    assert "scheduled_export" in timers
    assert disabled == ["AzureWebJobs.scheduled_export.Disabled"]
    switch = settings[disabled[0]]["operator"]["operands"]
    assert switch == {
        "condition": "scheduledExportEnabled",
        "true_value": "false",
        "false_value": "true",
    }
    assert bicep(MAIN)["parameters"]["scheduledExportEnabled"]["default"] is False
    request = settings["EXPORT_SCHEDULE_REQUEST"]["operator"]["operands"]
    assert request["condition"] == "scheduledExportEnabled" and request["false_value"] == ""
    assert KEY_VAULT_REFERENCE.match(request["true_value"])


def test_the_identity_that_holds_the_role_is_the_one_the_app_uses() -> None:
    """AZURE_CLIENT_ID picks the user-assigned identity for DefaultAzureCredential (README); it,
    host storage and Key Vault references all use the one identity main.bicep creates."""
    api_call = bicep(MAIN)["modules"]["api"]["config"]["params"]
    assert dotted(api_call["identityClientId"]) == "identity.outputs.clientId"
    assert dotted(api_call["identityId"]) == "identity.outputs.resourceId"
    settings = app_settings()
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    site = site_module()
    assert site["managedIdentities"] == {
        "systemAssigned": False,
        "userAssignedResourceIds": ["identityId"],
    }
    assert site["keyVaultAccessIdentityResourceId"] == "identityId"


# --- (b) the least-privilege role -------------------------------------------------------------


def test_the_role_is_loaded_from_the_json_the_least_privilege_tests_check() -> None:
    main = bicep(MAIN)
    assert load_json_path(main, "exportRole", MAIN) == ROLE.resolve()
    definitions = [
        (name, r)
        for path in bicep_files()
        for name, r in bicep(path).get("resources", {}).items()
        if r["type"] == "Microsoft.Authorization/roleDefinitions"
    ]
    assert [name for name, _ in definitions] == ["exportRoleDefinition"], "one role definition"
    properties = definitions[0][1]["config"]["properties"]
    assert properties["type"] == "CustomRole"
    (permissions,) = properties["permissions"]
    assert {key: dotted(value) for key, value in permissions.items()} == {
        "actions": "exportRole.Actions",
        "notActions": "exportRole.NotActions",
        "dataActions": "exportRole.DataActions",
        "notDataActions": "exportRole.NotDataActions",
    }
    assert dotted(properties["description"]) == "exportRole.Description"


def test_no_action_is_written_into_the_bicep() -> None:
    """The JSON is the single source: no ARM action is spelled in a Bicep file."""
    for path in bicep_files():
        text = path.read_text(encoding="utf-8")
        assert "Microsoft.DBforMySQL/" not in text, path
        assert not re.search(r"'[A-Za-z]+\.[A-Za-z]+/[\w/]+/(read|write|action|delete)'", text), (
            path
        )


def test_the_role_is_assigned_to_the_app_identity_at_the_scopes_given_and_nowhere_else() -> None:
    main = bicep(MAIN)
    expected_scope = {
        "exportRoleOnSubscriptions": ("exportSubscriptionIds", "subscription"),
        "exportRoleOnResourceGroups": ("exportResourceGroupIds", "resource_group"),
    }
    for name, (parameter, scope_function) in expected_scope.items():
        module = main["modules"][name]
        loop = module["config"]
        assert loop["loop_type"]["detail"]["array_name"] == parameter
        assert main["parameters"][parameter]["default"] == [], "no scope unless given"
        assert loop["config"]["scope"]["function"]["type"] == scope_function
        params = loop["config"]["params"]
        assert dotted(params["roleDefinitionId"]) == "exportRoleDefinition.id"
        assert dotted(params["principalId"]) == "identity.outputs.principalId"
        target = bicep((MAIN.parent / module["detail"]["path"]).resolve())
        (assignment,) = target["resources"].values()
        assert assignment["type"] == "Microsoft.Authorization/roleAssignments"
        assert "scope" not in assignment["config"], (
            "the module's own scope: the subscription or group"
        )
        assert assignment["config"]["properties"]["roleDefinitionId"] == "roleDefinitionId"
        assert assignment["config"]["properties"]["principalId"] == "principalId"
    # Assignable where it is assigned (plus the deployment's own subscription, where it is defined).
    assignable = main["resources"]["exportRoleDefinition"]["config"]["properties"][
        "assignableScopes"
    ]
    assert assignable["function"]["parameters"]["arg_2"] == "exportScopes"


def test_every_other_role_is_a_data_plane_role_on_one_resource_of_the_app() -> None:
    """Nothing but the export role is granted at subscription or resource group scope."""
    granted: set[str] = set()
    for path in bicep_files():
        if path.name.startswith("export-"):
            continue  # the export scopes and target accounts: their own tests
        parsed = bicep(path)
        variables = {k: v["value"] for k, v in parsed.get("variables", {}).items()}
        for name, resource in parsed.get("resources", {}).items():
            if resource["type"] != "Microsoft.Authorization/roleAssignments":
                continue
            config = body(resource["config"])
            assert config.get("scope") in parsed["resources"], (
                f"{path.name}:{name} scoped to a resource"
            )
            role = config["properties"]["roleDefinitionId"]["function"]["parameters"]
            role_id = variables[role["resource_name_1"]] if "resource_name_1" in role else None
            assert role_id in BUILT_IN_ROLES, f"{path.name}:{name}: {role}"
            granted.add(role_id)
    assert granted == set(BUILT_IN_ROLES)
    vault = bicep(MAIN)["modules"]["vault"]["config"]["params"]
    roles = {
        item["roleDefinitionIdOrName"]
        for variable in ("appVaultRoles", "operatorVaultRoles")
        for item in walk(bicep(MAIN)["variables"][variable]["value"])
        if isinstance(item, dict) and "roleDefinitionIdOrName" in item
    }
    assert roles == VAULT_ROLES
    assert vault["roleAssignments"]["function"]["parameters"] == {
        "arg_1": "appVaultRoles",
        "arg_2": "operatorVaultRoles",
    }


# --- (c) no secret in a parameter default -----------------------------------------------------


def test_secure_parameters_have_no_default_and_secret_names_are_secure() -> None:
    secure: list[str] = []
    for path in bicep_files():
        for name, parameter in bicep(path).get("parameters", {}).items():
            if is_secure(parameter):
                secure.append(name)
                assert parameter["default"] is None, f"{path.name}: @secure() {name} has a default"
            elif SECRET_NAME.search(name) and not name.endswith("Name"):
                # (a secret's name, such as logicAppFunctionKeySecretName, is no secret)
                pytest.fail(f"{path.name}: {name} looks like a secret but is not @secure()")
    assert secure == ["sasSealingKey"]


def test_the_parameters_file_maps_secrets_from_the_environment_only() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))[
        "parameters"
    ]
    declared = bicep(MAIN)["parameters"]
    assert set(parameters) <= set(declared), "the parameters file names parameters main.bicep has"
    for name, entry in parameters.items():
        if is_secure(declared[name]):
            assert re.fullmatch(r"\$\{[A-Z_]+\}", entry["value"]), f"{name}: {entry['value']!r}"


def test_secrets_reach_the_app_only_as_key_vault_references() -> None:
    main = bicep(MAIN)
    secrets = main["modules"]["vault"]["config"]["params"]["secrets"]
    assert [(s["name"], s["value"]) for s in secrets] == [("sas-sealing-key", "sasSealingKey")]
    reference = KEY_VAULT_REFERENCE.match(app_settings()["SAS_SEALING_KEY"])
    assert reference and reference.group(1) == "sas-sealing-key"
    # No secure parameter is passed anywhere else or shown in an output.
    secure = {n for n, p in main["parameters"].items() if is_secure(p)}
    for name in secure:
        uses = [
            module_name
            for module_name, module in main["modules"].items()
            if any(v == name for v in walk(module["config"]))
        ]
        assert uses == ["vault"], f"{name} goes to {uses}"
        assert not any(name in json.dumps(o) for o in main.get("outputs", {}).values())


# --- what checkov does not see: the inputs of the Azure Verified Modules -----------------------


def avm(name: str) -> dict[str, Any]:
    return bicep(MAIN)["modules"][name]["config"]["params"]  # type: ignore[no-any-return]


def test_storage_takes_no_shared_key_and_no_anonymous_or_plain_http_access() -> None:
    storage = avm("storage")
    assert storage["allowSharedKeyAccess"] is False
    assert storage["defaultToOAuthAuthentication"] is True
    assert storage["allowBlobPublicAccess"] is False
    assert storage["allowCrossTenantReplication"] is False
    assert storage["supportsHttpsTrafficOnly"] is True
    assert storage["minimumTlsVersion"] == "TLS1_2"
    # The Flex deployment container exists, and the app deploys from it with its identity.
    containers = storage["blobServices"]["containers"]["function"]["parameters"]
    (container,) = containers["arg_1"]
    assert container["name"] == "deploymentContainerName"
    # The report container (REPORT_CONTAINER_URL), unless another is given.
    assert containers["arg_2"] == "reportContainers"
    deployment = site_module()["functionAppConfig"]["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert (
        deployment["value"]
        == "${storageAccount.properties.primaryEndpoints.blob}${deploymentContainerName}"
    )
    assert deployment["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    # Never the AVM site module's storage shortcut: it writes a connection string with a key.
    assert "storageAccountResourceId" not in site_module()


def test_key_vault_is_rbac_only_and_recoverable() -> None:
    vault = avm("vault")
    assert vault["enableRbacAuthorization"] is True
    assert vault["enablePurgeProtection"] is True
    assert vault["softDeleteRetentionInDays"] >= 7
    assert "accessPolicies" not in vault
    for switch in (
        "enableVaultForDeployment",
        "enableVaultForTemplateDeployment",
        "enableVaultForDiskEncryption",
    ):
        assert vault[switch] is False, switch


def test_application_insights_takes_entra_tokens_only() -> None:
    assert avm("monitoring")["disableLocalAuth"] is True


def test_the_function_app_serves_https_only_without_basic_publishing_credentials() -> None:
    site = site_module()
    assert site["kind"] == "functionapp,linux"
    assert site["httpsOnly"] is True
    assert site["siteConfig"]["minTlsVersion"] == "1.2"
    assert site["siteConfig"]["ftpsState"] == "Disabled"
    assert {p["name"]: p["allow"] for p in site["basicPublishingCredentialsPolicies"]} == {
        "ftp": False,
        "scm": False,
    }
    runtime = site["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "pythonVersion"}
    allowed = next(
        d["argument"]
        for d in bicep(MAIN)["parameters"]["pythonVersion"]["decorators"]
        if d["type"] == "allowed"
    )
    # The versions the app claims (pyproject.toml, README), and nothing else.
    assert allowed == ["3.11", "3.12", "3.13"]


def test_the_scheduler_task_hub_is_the_hub_host_json_names() -> None:
    """With the Durable Task Scheduler, the task hub is created under host.json's hubName, so a
    breaking release's new hub name (README "Upgrading") gets its own hub on the next provision."""
    main = bicep(MAIN)
    assert load_json_path(main, "hostJson", MAIN) == (ROOT / "host.json").resolve()
    assert (
        dotted(main["variables"]["taskHubName"]["value"])
        == "hostJson.extensions.durableTask.hubName"
    )
    assert body(main["modules"]["scheduler"]["config"])["params"]["taskHubName"] == "taskHubName"
    hub = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["durableTask"][
        "hubName"
    ]
    # Microsoft.DurableTask task hub names (azure-rest-api-specs, DurableTask.Management main.tsp).
    assert re.fullmatch(r"[a-zA-Z0-9-]{3,64}", hub)
    assert main["parameters"]["durableBackend"]["default"] == "AzureStorage"


# --- issue 14: the report container, target storage, the alert, report events ------------------

APP = INFRA / "app"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"


def role_of(parsed: dict[str, Any], assignment: dict[str, Any]) -> str:
    """The built-in role id an assignment grants (``subscriptionResourceId(..., variable)``)."""
    role = body(assignment["config"])["properties"]["roleDefinitionId"]["function"]["parameters"]
    assert role["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    return parsed["variables"][role["resource_name_1"]]["value"]  # type: ignore[no-any-return]


def test_reports_go_to_a_container_of_the_app_storage_the_identity_writes_to() -> None:
    """REPORT_CONTAINER_URL: the app storage account's reportContainerName (created with the
    account) unless another URL is given; the identity holds Blob Data Contributor on it."""
    url = app_settings()["REPORT_CONTAINER_URL"]["operator"]["operands"]
    assert url == {
        "condition": {
            "function": {"type": "empty", "parameters": {"item_to_test": "reportContainerUrl"}}
        },
        "true_value": "${storageAccount.properties.primaryEndpoints.blob}${reportContainerName}",
        "false_value": "reportContainerUrl",
    }
    main = bicep(MAIN)
    assert main["parameters"]["reportContainerName"]["default"] == "reports"
    assert main["parameters"]["reportContainerUrl"]["default"] == ""
    created = main["variables"]["reportContainers"]["value"]["operator"]["operands"]
    assert created["condition"] == "reportContainerHere"
    assert created["true_value"] == [{"name": "reportContainerName"}]
    rbac = bicep(APP / "rbac.bicep")
    writer = rbac["resources"]["reportWriter"]
    assert body(writer["config"])["scope"] == "reportContainer"
    assert rbac["resources"]["reportContainer"]["type"] == (
        "Microsoft.Storage/storageAccounts/blobServices/containers"
    )
    assert BUILT_IN_ROLES[role_of(rbac, writer)] == "Storage Blob Data Contributor"
    assert body(writer["config"])["properties"]["principalId"] == "appPrincipalId"


def test_each_target_storage_account_gets_the_delegator_and_a_data_role_that_writes() -> None:
    main = bicep(MAIN)
    module = main["modules"]["exportTargetStorage"]
    loop = module["config"]
    assert loop["loop_type"]["detail"]["array_name"] == "exportTargetStorageAccountIds"
    assert main["parameters"]["exportTargetStorageAccountIds"]["default"] == []
    # In the account's own subscription and group, as the export role's modules are.
    assert loop["config"]["scope"]["function"]["type"] == "resource_group"
    assert dotted(loop["config"]["params"]["principalId"]) == "identity.outputs.principalId"
    target = bicep((MAIN.parent / module["detail"]["path"]).resolve())
    assignments = {
        name: r
        for name, r in target["resources"].items()
        if r["type"] == "Microsoft.Authorization/roleAssignments"
    }
    granted = {role_of(target, r) for r in assignments.values()}
    assert granted == set(TARGET_STORAGE_ROLES)
    for assignment in assignments.values():
        config = body(assignment["config"])
        assert config["scope"] == "targetAccount"
        assert config["properties"]["principalId"] == "principalId"
    assert target["resources"]["targetAccount"]["existing"] is True


def test_the_failure_alert_is_the_guides_query_and_off_by_default() -> None:
    main = bicep(MAIN)
    assert main["parameters"]["deployFailureAlert"]["default"] is False
    assert main["modules"]["failureAlert"]["config"]["condition"] == "deployFailureAlert"
    alerts = bicep(APP / "alerts.bicep")
    rule = alerts["resources"]["failedScheduledRun"]["config"]["properties"]
    (criterion,) = rule["criteria"]["allOf"]
    query_file = criterion["query"]["function"]["parameters"]["file_path"]
    query = (APP / query_file).read_text(encoding="utf-8")
    # The same text as docs/operations.md shows for the rule (one source for both).
    assert f"```kusto\n{query}```" in OPERATIONS_DOC.read_text(encoding="utf-8")
    assert 'run_id startswith "sched-"' in query and "failed + timed_out > 0" in query
    assert (rule["evaluationFrequency"], rule["windowSize"]) == ("PT1H", "PT2H")
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    assert criterion["timeAggregation"] == "Count"
    assert [dotted(s) for s in rule["scopes"]] == ["applicationInsights.id"]
    assert rule["autoMitigate"] is False


def test_report_events_are_blob_created_for_report_json_and_off_by_default() -> None:
    main = bicep(MAIN)
    assert main["parameters"]["deployReportEvents"]["default"] is False
    assert main["modules"]["reportEvents"]["config"]["condition"] == "deployReportEvents"
    events = bicep(APP / "report-events.bicep")
    topic = events["resources"]["systemTopic"]["config"]["properties"]
    assert topic["topicType"] == "Microsoft.Storage.StorageAccounts"
    assert dotted(topic["source"]) == "storageAccount.id"
    subscription = events["resources"]["reportCreated"]["config"]["properties"]
    assert subscription["filter"] == {
        "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
        "subjectBeginsWith": "/blobServices/default/containers/${reportContainerName}/",
        "subjectEndsWith": "report.json",
    }


def test_the_logic_app_is_the_sample_workflow_and_reads_only_its_own_secret() -> None:
    main = bicep(MAIN)
    assert main["parameters"]["deployLogicApp"]["default"] is False
    assert main["modules"]["logicApp"]["config"]["condition"] == "deployLogicApp"
    logic = bicep(APP / "logicapp.bicep")
    sample = ROOT / "logicapps" / "export-workflow.json"
    assert load_json_path(logic, "workflow", APP / "logicapp.bicep") == sample.resolve()
    workflow = logic["resources"]["exportWorkflow"]["config"]
    assert workflow["identity"] == {"type": "SystemAssigned"}
    definition = workflow["properties"]["definition"]
    declared = json.loads(sample.read_text(encoding="utf-8"))
    # Every top-level key of the sample is carried (the test of the sample checks it holds no
    # key this rebuild drops), and every workflow parameter gets a value.
    assert {unquote(k) for k in definition} == set(declared)
    assert set(workflow["properties"]["parameters"]) == set(declared["parameters"])
    # Key Vault Secrets User on the function key's secret, nothing wider.
    (assignment,) = [
        r
        for r in logic["resources"].values()
        if r["type"] == "Microsoft.Authorization/roleAssignments"
    ]
    assert body(assignment["config"])["scope"] == "functionKeySecret"
    assert BUILT_IN_ROLES[role_of(logic, assignment)] == "Key Vault Secrets User"
    assert logic["resources"]["functionKeySecret"]["type"] == "Microsoft.KeyVault/vaults/secrets"


def test_optional_features_take_no_secret_through_a_parameter() -> None:
    """A webhook URL with a key, or a request with SAS URIs, would be kept in the deployment's
    history: the endpoints are a Logic App trigger id (its callback URL read with
    listCallbackUrl() during the deployment) or a URL without a secret."""
    for path in (APP / "report-events.bicep", APP / "logicapp.bicep"):
        text = path.read_text(encoding="utf-8")
        assert "listCallbackUrl(" in text, path
        assert "startsWith(" in text, path
    assert not [
        n for n, p in bicep(MAIN)["parameters"].items() if is_secure(p) and n != "sasSealingKey"
    ]
