"""Static checks of the infrastructure templates (no network, no Bicep compiler).

main.bicep (+ the modules it references) is parsed with pycep-parser, the hand-kept
ARM twin azuredeploy.json with json. The tests pin the security properties, the EU
location guard, and that both templates, the portal wizard, azd's files and the code's
setting names agree with each other.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pycep
import pytest

from convergio.controlplane import CONTAINERS
from convergio.settings import SETTING_NAMES

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
EU_REGIONS = [
    "westeurope",
    "northeurope",
    "swedencentral",
    "francecentral",
    "germanywestcentral",
    "italynorth",
    "spaincentral",
    "polandcentral",
]
ROLE_IDS = {
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",  # Key Vault Secrets Officer
    "00000000-0000-0000-0000-000000000002",  # Cosmos DB Built-in Data Contributor
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3c",  # Storage Table Data Contributor
    "3913510d-42f4-4e42-8a64-420c390055eb",  # Monitoring Metrics Publisher
    "0ad04412-c4d5-4796-b79c-f76d14c8d402",  # Durable Task Data Contributor
}
DTS_TYPE_OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__type"
# Only main.bicep (subscription scope) creates the resource group; azuredeploy.json
# deploys into one (see its metadata.scope).
SUBSCRIPTION_ONLY_TYPES = {"Microsoft.Resources/resourceGroups"}


# ---------------------------------------------------------------- loading


@cache
def bicep_files() -> dict[str, dict[str, Any]]:
    """main.bicep and every module it references (transitively), by path under infra/."""
    parser = pycep.BicepParser()
    parsed: dict[str, dict[str, Any]] = {}
    pending = [INFRA / "main.bicep"]
    while pending:
        path = pending.pop()
        key = path.relative_to(INFRA).as_posix()
        if key in parsed:
            continue
        tree = parser.parse(file_path=path)
        parsed[key] = tree
        for module in (tree.get("modules") or {}).values():
            pending.append((path.parent / module["detail"]["path"]).resolve())
    return parsed


def module_body(module: dict[str, Any]) -> dict[str, Any]:
    """A module's name/scope/params, also under an `if (...)` condition."""
    config = module["config"]
    return config["config"] if "condition" in config else config


def arm_template() -> dict[str, Any]:
    return json.loads((INFRA / "azuredeploy.json").read_text(encoding="utf-8"))


def ui_definition() -> dict[str, Any]:
    return json.loads((INFRA / "createUiDefinition.json").read_text(encoding="utf-8"))


def setting_names() -> list[str]:
    return json.loads((INFRA / "app-settings.names.json").read_text(encoding="utf-8"))


def bicep_resources() -> list[tuple[str, dict[str, Any]]]:
    """(type, body) of every resource in main.bicep and its modules; loops unwrapped."""
    found = []
    for tree in bicep_files().values():
        for resource in (tree.get("resources") or {}).values():
            body = resource["config"]
            if "loop_type" in body:
                body = body["config"]
            found.append((resource["type"], body))
    return found


def arm_resources(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(r["type"], r) for r in template["resources"]]


def only(resources: list[tuple[str, dict[str, Any]]], rtype: str) -> dict[str, Any]:
    matches = [body for t, body in resources if t == rtype]
    assert len(matches) == 1, f"expected one {rtype}, found {len(matches)}"
    return matches[0]


def child_name(name: str) -> str:
    """'scm' from Bicep's name: 'scm' or ARM's "[format('{0}/scm', ...)]"."""
    match = re.fullmatch(r"\[format\('([^']*)'.*\]", name)
    return (match.group(1) if match else name).rsplit("/", 1)[-1]


def security_profile(resources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The security-relevant properties, read the same way from either template."""
    site = only(resources, "Microsoft.Web/sites")
    plan = only(resources, "Microsoft.Web/serverfarms")
    storage = only(resources, "Microsoft.Storage/storageAccounts")
    vault = only(resources, "Microsoft.KeyVault/vaults")
    cosmos = only(resources, "Microsoft.DocumentDB/databaseAccounts")
    insights = only(resources, "Microsoft.Insights/components")
    site_config = site["properties"]["siteConfig"]
    app_config = site["properties"]["functionAppConfig"]
    publishing = sorted(
        (child_name(body["name"]), body["properties"]["allow"])
        for t, body in resources
        if t == "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
    )
    return {
        "plan.sku": (plan["sku"]["name"], plan["sku"]["tier"]),
        "site.kind": site["kind"],
        "site.identity": site["identity"]["type"],
        "site.httpsOnly": site["properties"]["httpsOnly"],
        "site.minTlsVersion": site_config["minTlsVersion"],
        "site.ftpsState": site_config["ftpsState"],
        "site.runtime": (app_config["runtime"]["name"], app_config["runtime"]["version"]),
        "site.deploymentAuth": app_config["deployment"]["storage"]["authentication"]["type"],
        "site.basicPublishing": publishing,
        "storage.allowSharedKeyAccess": storage["properties"]["allowSharedKeyAccess"],
        "storage.allowBlobPublicAccess": storage["properties"]["allowBlobPublicAccess"],
        "storage.minimumTlsVersion": storage["properties"]["minimumTlsVersion"],
        "storage.httpsOnly": storage["properties"]["supportsHttpsTrafficOnly"],
        "vault.rbac": vault["properties"]["enableRbacAuthorization"],
        "vault.softDelete": vault["properties"]["enableSoftDelete"],
        "vault.purgeProtection": vault["properties"]["enablePurgeProtection"],
        "cosmos.disableLocalAuth": cosmos["properties"]["disableLocalAuth"],
        "cosmos.capabilities": [c["name"] for c in cosmos["properties"]["capabilities"]],
        "cosmos.minimalTlsVersion": cosmos["properties"]["minimalTlsVersion"],
        "insights.disableLocalAuth": insights["properties"]["DisableLocalAuth"],
    }


EXPECTED_SECURITY = {
    "plan.sku": ("FC1", "FlexConsumption"),
    "site.kind": "functionapp,linux",
    "site.identity": "UserAssigned",
    "site.httpsOnly": True,
    "site.minTlsVersion": "1.2",
    "site.ftpsState": "Disabled",
    "site.runtime": ("python", "3.11"),
    "site.deploymentAuth": "UserAssignedIdentity",
    "site.basicPublishing": [("ftp", False), ("scm", False)],
    "storage.allowSharedKeyAccess": False,
    "storage.allowBlobPublicAccess": False,
    "storage.minimumTlsVersion": "TLS1_2",
    "storage.httpsOnly": True,
    "vault.rbac": True,
    "vault.softDelete": True,
    "vault.purgeProtection": True,
    "cosmos.disableLocalAuth": True,
    "cosmos.capabilities": ["EnableServerless"],
    "cosmos.minimalTlsVersion": "Tls12",
    "insights.disableLocalAuth": True,
}


def bicep_types() -> set[str]:
    return {t for t, _ in bicep_resources()} - SUBSCRIPTION_ONLY_TYPES


def arm_types(template: dict[str, Any]) -> set[str]:
    return {t for t, _ in arm_resources(template)}


def arm_app_setting_names(template: dict[str, Any]) -> set[str]:
    site = only(arm_resources(template), "Microsoft.Web/sites")
    expression = site["properties"]["siteConfig"]["appSettings"]
    return set(re.findall(r"createObject\('name', '([^']+)'", expression))


def bicep_app_settings() -> dict[str, dict[str, Any]]:
    """The three setting groups of app/function.bicep (both branches of the conditional)."""
    variables = bicep_files()["app/function.bicep"]["variables"]
    durable = variables["durableConnectionSettings"]["value"]["operator"]["operands"]
    return {
        "convergio": variables["convergioSettings"]["value"],
        "platform": variables["platformSettings"]["value"],
        "scheduler": durable["true_value"],
        "storage": durable["false_value"],
    }


# ---------------------------------------------------------------- main.bicep


def test_main_bicep_is_subscription_scoped_with_eu_defaults() -> None:
    main = bicep_files()["main.bicep"]
    assert main["globals"]["scope"]["value"] == "subscription"
    params = main["parameters"]
    assert params["location"]["default"] == "westeurope"
    assert params["allowedLocations"]["default"] == EU_REGIONS
    assert params["useDurableTaskScheduler"]["default"] is False
    assert params["keyVaultPublicNetworkAccess"]["default"] == "Enabled"
    assert params["environmentName"]["default"] is None  # required
    # every module it references was found and parsed
    assert set(bicep_files()) == {
        "main.bicep",
        "app/function.bicep",
        "core/identity.bicep",
        "core/monitoring.bicep",
        "core/storage.bicep",
        "core/keyvault.bicep",
        "core/cosmos.bicep",
        "core/durable-task-scheduler.bicep",
    }


def test_names_come_from_abbreviations_and_are_overridable() -> None:
    main = bicep_files()["main.bicep"]
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text(encoding="utf-8"))
    assert main["variables"]["abbrs"]["value"]["function"]["parameters"]["file_path"] == "abbreviations.json"
    names = main["variables"]["names"]["value"]
    used = set()
    for key, expression in names.items():
        operands = expression["operator"]["operands"]  # empty(override) ? generated : override
        override = operands["false_value"]
        assert operands["condition"]["function"]["parameters"]["item_to_test"] == override, key
        assert main["parameters"][override]["default"] == "", key
        used |= set(re.findall(r"\$\{abbrs\.(\w+)\}", operands["true_value"]))
    assert used == set(abbreviations), "abbreviations.json has unused or missing entries"
    # the ARM twin carries the same abbreviations (minus the resource group's)
    assert arm_template()["variables"]["abbrs"] == {
        k: v for k, v in abbreviations.items() if k != "resourcesResourceGroups"
    }


def test_outputs_are_upper_snake_for_azd() -> None:
    outputs = bicep_files()["main.bicep"]["outputs"]
    for name in outputs:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
    assert {
        "AZURE_LOCATION",
        "AZURE_FUNCTION_APP_NAME",
        "KEY_VAULT_URL",
        "COSMOS_ENDPOINT",
        "COSMOS_DATABASE",
        "TASKHUB_NAME",
    } <= set(outputs)
    assert set(arm_template()["outputs"]) == set(outputs)


@pytest.mark.parametrize("path", sorted(p.relative_to(INFRA).as_posix() for p in INFRA.rglob("*.bicep")))
def test_no_dead_bicep_parameters(path: str) -> None:
    text = (INFRA / path).read_text(encoding="utf-8")
    params = bicep_files()[path]["parameters"] or {}
    for name in params:
        uses = len(re.findall(rf"\b{re.escape(name)}\b", text))
        assert uses >= 2, f"{path}: param {name} is declared but never used"


def test_no_dead_arm_parameters() -> None:
    template = arm_template()
    text = json.dumps({k: v for k, v in template.items() if k != "parameters"})
    for name in template["parameters"]:
        assert f"parameters('{name}')" in text, f"azuredeploy.json: parameter {name} is unused"


def test_module_params_are_all_passed() -> None:
    """Every module parameter without a default gets a value from main.bicep."""
    main = bicep_files()["main.bicep"]
    for module in main["modules"].values():
        path = Path(module["detail"]["path"]).as_posix().removeprefix("./")
        declared = bicep_files()[path]["parameters"]
        passed = set(module_body(module)["params"])
        required = {n for n, p in declared.items() if p["default"] is None}
        assert required <= passed, f"{path}: missing {required - passed}"
        assert passed <= set(declared), f"{path}: unknown {passed - set(declared)}"


# ---------------------------------------------------------------- EU location guard


def test_bicep_location_guard_fails_outside_the_allowed_list() -> None:
    main = bicep_files()["main.bicep"]
    guard = main["variables"]["guardedLocation"]["value"]["operator"]
    assert guard["type"] == "conditional"
    condition = guard["operands"]["condition"]["function"]
    assert condition["type"] == "contains"
    assert condition["parameters"] == {"container": "allowedLocations", "item_to_find": "location"}
    assert guard["operands"]["true_value"] == "location"
    failing = guard["operands"]["false_value"]["function"]
    assert failing["type"] == "json"
    # the text json() gets for a disallowed region is not JSON: ARM fails the deployment
    with pytest.raises(json.JSONDecodeError):
        json.loads(failing["parameters"]["arg_1"].replace("${location}", "eastus"))
    # and nothing is placed without going through the guard
    assert main["resources"]["rg"]["config"]["location"] == "guardedLocation"
    for name, module in main["modules"].items():
        assert module_body(module)["params"]["location"] == "guardedLocation", name
    assert main["outputs"]["AZURE_LOCATION"]["value"] == "guardedLocation"


def test_arm_location_guard_fails_outside_the_allowed_list() -> None:
    template = arm_template()
    assert template["parameters"]["location"]["defaultValue"] == "westeurope"
    assert template["parameters"]["allowedLocations"]["defaultValue"] == EU_REGIONS
    guard = template["variables"]["guardedLocation"]
    match = re.fullmatch(
        r"\[if\(contains\(parameters\('allowedLocations'\), parameters\('location'\)\), "
        r"parameters\('location'\), json\(format\('(.*)', parameters\('location'\)\)\)\)\]",
        guard,
    )
    assert match, guard
    with pytest.raises(json.JSONDecodeError):
        json.loads(match.group(1).replace("{0}", "eastus"))
    for rtype, resource in arm_resources(template):
        if "location" in resource:
            assert resource["location"] == "[variables('guardedLocation')]", rtype
    cosmos = only(arm_resources(template), "Microsoft.DocumentDB/databaseAccounts")
    assert cosmos["properties"]["locations"][0]["locationName"] == "[variables('guardedLocation')]"


def test_every_located_bicep_resource_uses_the_module_location() -> None:
    for path, tree in bicep_files().items():
        if path == "main.bicep":
            continue
        for name, resource in (tree.get("resources") or {}).items():
            body = resource["config"]
            if "location" in body:
                assert body["location"] == "location", f"{path}:{name}"
                assert body.get("tags") == "tags", f"{path}:{name} is not tagged"


# ---------------------------------------------------------------- security


def test_bicep_security_properties() -> None:
    assert security_profile(bicep_resources()) == EXPECTED_SECURITY


def test_arm_security_properties() -> None:
    assert security_profile(arm_resources(arm_template())) == EXPECTED_SECURITY


def test_security_agreement_catches_drift() -> None:
    drifted = copy.deepcopy(arm_template())
    site = only(arm_resources(drifted), "Microsoft.Web/sites")
    site["properties"]["httpsOnly"] = False
    vault = only(arm_resources(drifted), "Microsoft.KeyVault/vaults")
    vault["properties"]["enablePurgeProtection"] = False
    diff = {
        k
        for k, v in security_profile(arm_resources(drifted)).items()
        if security_profile(bicep_resources())[k] != v
    }
    assert diff == {"site.httpsOnly", "vault.purgeProtection"}


def test_resource_types_agree() -> None:
    template = arm_template()
    assert bicep_types() == arm_types(template)
    assert "Microsoft.DurableTask/schedulers/taskHubs" in bicep_types()
    drifted = copy.deepcopy(template)
    drifted["resources"] = [r for r in drifted["resources"] if r["type"] != "Microsoft.Insights/components"]
    assert bicep_types() - arm_types(drifted) == {"Microsoft.Insights/components"}


def test_checkov_suppressions_have_reasons_and_agree() -> None:
    bicep_skips: dict[str, set[str]] = {}
    pattern = re.compile(r"resource \w+ '([^@']+)@[^']+' = [^\n]*\n((?:\s*// checkov:skip=[^\n]*\n)+)")
    for path in INFRA.rglob("*.bicep"):
        for rtype, block in pattern.findall(path.read_text(encoding="utf-8")):
            for check, reason in re.findall(r"checkov:skip=(CKV\w+):([^\n]*)", block):
                assert len(reason.strip()) > 15, f"{check} needs a reason"
                bicep_skips.setdefault(rtype, set()).add(check)
    arm_skips: dict[str, set[str]] = {}
    for rtype, resource in arm_resources(arm_template()):
        for entry in resource.get("metadata", {}).get("checkov", []):
            check, _, reason = entry.partition(":")
            assert len(reason.strip()) > 15, f"{check} needs a reason"
            arm_skips.setdefault(rtype, set()).add(check)
    assert bicep_skips, "no inline suppressions found: the pattern is broken"
    # CKV_AZURE_43 (storage name rule) only fires on ARM, whose name is an expression
    arm_skips["Microsoft.Storage/storageAccounts"].discard("CKV_AZURE_43")
    assert bicep_skips == arm_skips


# ---------------------------------------------------------------- roles


def test_role_assignments_cover_every_role_in_both_templates() -> None:
    role_vars: dict[str, str] = {}
    for tree in bicep_files().values():
        for name, var in (tree.get("variables") or {}).items():
            if isinstance(var["value"], str) and var["value"] in ROLE_IDS:
                role_vars[name] = var["value"]
    assert set(role_vars.values()) == ROLE_IDS
    assigned = set()
    for rtype, body in bicep_resources():
        if rtype in (
            "Microsoft.Authorization/roleAssignments",
            "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
        ):
            guid = body["name"]["function"]
            assert guid["type"] == "guid"
            args = list(guid["parameters"].values())
            assert args[1] == "identityId"  # guid(scope, identityId, roleId), as in ARM
            assigned.add(role_vars[args[2]])
    assert assigned == ROLE_IDS
    template = arm_template()
    assert set(template["variables"]["roles"].values()) == ROLE_IDS
    arm_assigned = set()
    for rtype, resource in arm_resources(template):
        if rtype.lower().endswith("roleassignments"):
            match = re.search(r"guid\(.*variables\('roles'\)\.(\w+)\)", resource["name"])
            assert match, resource["name"]
            arm_assigned.add(template["variables"]["roles"][match.group(1)])
    assert arm_assigned == ROLE_IDS


def dotted(expression: Any) -> Any:
    """``a.b.c`` from pycep's nested property accessors (other expressions unchanged)."""
    if isinstance(expression, dict) and expression.get("operator", {}).get("type") == "property_accessor":
        operands = expression["operator"]["operands"]
        return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
    return expression


def module_references(params: Any) -> set[str]:
    """The ``<module>.outputs.<name>`` a module's params use (anywhere in their expressions)."""
    found: set[str] = set()
    value = dotted(params)
    if isinstance(value, str):
        if ".outputs." in value:
            found.add(value.split(".", 1)[0])
    elif isinstance(value, dict):
        for item in value.values():
            found |= module_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= module_references(item)
    return found


def _bicep_role_assignment_names() -> set[tuple[str, str, str]]:
    """(scope resource type, identity argument, role id) of each Bicep role assignment's guid() name."""
    found = set()
    for tree in bicep_files().values():
        resources = tree.get("resources") or {}
        variables = tree.get("variables") or {}
        for resource in resources.values():
            if not resource["type"].endswith(("/roleAssignments", "/sqlRoleAssignments")):
                continue
            guid = resource["config"]["name"]["function"]
            assert guid["type"] == "guid"
            scope, identity, role = (dotted(arg) for arg in guid["parameters"].values())
            symbol, _, attribute = scope.partition(".")
            assert attribute == "id", scope
            found.add((resources[symbol]["type"], identity, variables[role]["value"]))
    return found


ARM_ASSIGNMENT_NAME = re.compile(
    r"guid\(resourceId\('(?P<scope>[^']+)', variables\('names'\)\.\w+\), "
    r"resourceId\('Microsoft\.ManagedIdentity/userAssignedIdentities', variables\('names'\)\.identity\), "
    r"variables\('roles'\)\.(?P<role>\w+)\)"
)


def _arm_role_assignment_names(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()
    for rtype, resource in arm_resources(template):
        if rtype.endswith(("/roleAssignments", "/sqlRoleAssignments")):
            match = ARM_ASSIGNMENT_NAME.search(resource["name"])
            assert match, resource["name"]
            found.add((match["scope"], "identityId", template["variables"]["roles"][match["role"]]))
    return found


def test_role_assignment_names_are_computed_the_same_way_in_both_templates() -> None:
    """guid(scope id, identity resource id, role id) in both: one name per assignment, whichever route.

    Different formulas (principal id in one, identity id in the other) give one assignment two
    names, and the second route into a resource group fails with RoleAssignmentExists.
    """
    bicep = _bicep_role_assignment_names()
    assert len(bicep) == len(ROLE_IDS)
    assert {identity for _, identity, _ in bicep} == {"identityId"}
    assert bicep == _arm_role_assignment_names(arm_template())
    main = bicep_files()["main.bicep"]
    for name, module in main["modules"].items():
        params = module_body(module)["params"]
        if "principalId" in params:
            assert dotted(params["identityId"]) == "identity.outputs.id", name
    # the check sees a drifted name
    drifted = copy.deepcopy(arm_template())
    for resource in drifted["resources"]:
        if resource["type"] == "Microsoft.Authorization/roleAssignments":
            resource["name"] = resource["name"].replace(
                "resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('names').identity)",
                "reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', "
                "variables('names').identity), '2023-01-31').principalId",
            )
            break
    with pytest.raises(AssertionError):
        _arm_role_assignment_names(drifted)


def _arm_id(resource: dict[str, Any]) -> str:
    """The dependsOn expression that names an ARM resource of this template."""
    name = resource["name"].removeprefix("[").removesuffix("]")
    if resource["type"] == "Microsoft.Authorization/roleAssignments":
        scope = re.fullmatch(r"\[format\('([^']+)/\{0\}', (.+)\)\]", resource["scope"])
        assert scope, resource["scope"]
        scope_id = f"resourceId('{scope.group(1)}', {scope.group(2)})"
        return f"[extensionResourceId({scope_id}, 'Microsoft.Authorization/roleAssignments', {name})]"
    if resource["type"] == "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments":
        parts = re.fullmatch(r"format\('\{0\}/\{1\}', (variables\('names'\)\.cosmos), (guid\(.+\))\)", name)
        assert parts, name
        return f"[resourceId('{resource['type']}', {parts.group(1)}, {parts.group(2)})]"
    raise AssertionError(resource["type"])


def test_arm_site_waits_for_its_deployment_container_and_role_assignments() -> None:
    """In Bicep the api module takes outputs of every module, so the site comes after all of them.

    The ARM twin must say so: Flex Consumption reads the package from the deployment container
    with the app's identity, and the app starts using Key Vault, Cosmos DB and storage at once.
    """
    template = arm_template()
    site = only(arm_resources(template), "Microsoft.Web/sites")
    depends = set(site["dependsOn"])
    container = (
        "[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', "
        "variables('names').storage, 'default', variables('deploymentContainerName'))]"
    )
    assert container in depends
    assignments = [
        r for t, r in arm_resources(template) if t.endswith(("/roleAssignments", "/sqlRoleAssignments"))
    ]
    assert len(assignments) == len(ROLE_IDS)
    missing = {_arm_id(r) for r in assignments} - depends
    assert not missing, missing
    # in Bicep the api module depends on every module that holds an assignment (through outputs)
    main = bicep_files()["main.bicep"]
    api_params = module_body(main["modules"]["api"])["params"]
    assert module_references(api_params) == set(main["modules"]) - {"api"}
    assert dotted(api_params["deploymentContainerUrl"]) == "storage.outputs.deploymentContainerUrl"


def test_durable_task_scheduler_is_optional_in_both_templates() -> None:
    main = bicep_files()["main.bicep"]
    assert main["modules"]["scheduler"]["config"]["condition"] == "useDurableTaskScheduler"
    dts_types = {t for t, _ in arm_resources(arm_template()) if "DurableTask" in t}
    assert dts_types == {"Microsoft.DurableTask/schedulers", "Microsoft.DurableTask/schedulers/taskHubs"}
    for rtype, resource in arm_resources(arm_template()):
        is_dts = "DurableTask" in rtype or "durableTaskDataContributor" in resource["name"]
        assert (resource.get("condition") == "[parameters('useDurableTaskScheduler')]") == is_dts, rtype


def test_cosmos_database_and_containers() -> None:
    cosmos = bicep_files()["core/cosmos.bicep"]
    assert cosmos["parameters"]["databaseName"]["default"] == "convergio"
    assert cosmos["variables"]["containerNames"]["value"] == list(CONTAINERS)
    container = only(bicep_resources(), "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers")
    assert container["properties"]["resource"]["partitionKey"]["paths"] == ["/tenant_id"]
    variables = arm_template()["variables"]
    assert variables["cosmosDatabaseName"] == "convergio"
    assert variables["cosmosContainerNames"] == list(CONTAINERS)
    arm_container = only(
        arm_resources(arm_template()), "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"
    )
    assert arm_container["properties"]["resource"]["partitionKey"]["paths"] == ["/tenant_id"]


# ---------------------------------------------------------------- app settings


def test_app_setting_names_are_read_by_the_code() -> None:
    names = setting_names()
    assert len(names) == len(set(names))
    assert set(names) <= set(SETTING_NAMES), set(names) - set(SETTING_NAMES)


def test_templates_set_exactly_the_listed_code_settings() -> None:
    groups = bicep_app_settings()
    assert set(groups["convergio"]) == set(setting_names())
    # the platform and durable connection settings are not Convergio's own names
    others = set(groups["platform"]) | set(groups["scheduler"]) | set(groups["storage"])
    assert not others & set(SETTING_NAMES)
    assert arm_app_setting_names(arm_template()) == set(groups["convergio"]) | others


def test_app_setting_values() -> None:
    groups = bicep_app_settings()
    convergio = groups["convergio"]
    assert convergio["NUMBA_CACHE_DIR"] == "/tmp/numba-cache"
    assert groups["scheduler"][DTS_TYPE_OVERRIDE] == "azureManaged"
    assert DTS_TYPE_OVERRIDE not in groups["storage"]
    assert groups["platform"]["AzureWebJobsStorage__credential"] == "managedidentity"
    assert (
        groups["platform"]["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == "Authorization=AAD;ClientId=${identityClientId}"
    )
    assert groups["scheduler"]["DURABLE_TASK_SCHEDULER_CONNECTION_STRING"] == (
        "Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}"
    )
    site = only(arm_resources(arm_template()), "Microsoft.Web/sites")
    expression = site["properties"]["siteConfig"]["appSettings"]
    assert "'NUMBA_CACHE_DIR', 'value', '/tmp/numba-cache'" in expression
    assert f"'{DTS_TYPE_OVERRIDE}', 'value', 'azureManaged'" in expression
    assert "DURABLE_STORAGE_PROVIDER" not in expression
    assert "Endpoint={0};Authentication=ManagedIdentity;ClientID={1}" in expression
    assert "Authorization=AAD;ClientId={0}" in expression


def test_host_json_names_match_the_settings() -> None:
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["durableTask"]
    assert host["hubName"] == "%TASKHUB_NAME%"
    # No placeholder in the type: the extension only resolves %...% in hubName (ADR 0013).
    assert set(host["storageProvider"]) == {"connectionStringName"}
    connection = host["storageProvider"]["connectionStringName"]
    groups = bicep_app_settings()
    assert connection in groups["scheduler"]
    assert {f"{connection}__accountName", f"{connection}__credential", f"{connection}__clientId"} == set(
        groups["storage"]
    )


def test_the_scheduler_override_names_a_documented_durable_option() -> None:
    """``AzureFunctionsJobHost__a__b`` overrides host.json's ``a.b``; the path must be the extension's own."""
    path = DTS_TYPE_OVERRIDE.removeprefix("AzureFunctionsJobHost__").split("__")
    assert path == ["extensions", "durableTask", "storageProvider", "type"]
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    assert "storageProvider" in host["extensions"]["durableTask"]
    # The documented provider types (Durable Functions storage providers): the override picks one.
    assert bicep_app_settings()["scheduler"][DTS_TYPE_OVERRIDE] in {
        "AzureStorage",
        "azureManaged",
        "mssql",
        "Netherite",
    }


# ---------------------------------------------------------------- portal wizard, azd


def test_create_ui_definition_matches_azuredeploy() -> None:
    ui = ui_definition()
    assert ui["handler"] == "Microsoft.Azure.CreateUIDef"
    assert ui["version"] == "0.1.2-preview"
    params = arm_template()["parameters"]
    outputs = ui["parameters"]["outputs"]
    assert set(outputs) <= set(params), set(outputs) - set(params)
    required = {n for n, p in params.items() if "defaultValue" not in p}
    assert required <= set(outputs)
    assert set(outputs) == {
        "environmentName",
        "location",
        "adminContactEmail",
        "useDurableTaskScheduler",
        "instanceMemoryMB",
        "maximumInstanceCount",
        "keyVaultPublicNetworkAccess",
        "keyVaultNetworkDefaultAction",
    }
    assert outputs["location"] == "[location()]"
    allowed = ui["parameters"]["config"]["basics"]["location"]["allowedValues"]
    assert allowed == params["allowedLocations"]["defaultValue"]
    assert allowed == bicep_files()["main.bicep"]["parameters"]["allowedLocations"]["default"]


def _ui_elements() -> dict[str, dict[str, Any]]:
    ui = ui_definition()["parameters"]
    elements = {f"basics('{e['name']}')": e for e in ui["basics"]}
    for step in ui["steps"]:
        for element in step["elements"]:
            elements[f"steps('{step['name']}').{element['name']}"] = element
    return elements


def test_create_ui_definition_values_fit_the_parameters() -> None:
    params = arm_template()["parameters"]
    elements = _ui_elements()
    python_types = {"bool": bool, "int": int, "string": str}
    for output, expression in ui_definition()["parameters"]["outputs"].items():
        if output == "location":
            continue
        element = elements[expression.strip("[]")]
        param = params[output]
        if element["type"] == "Microsoft.Common.DropDown":
            values = [v["value"] for v in element["constraints"]["allowedValues"]]
            assert all(type(v) is python_types[param["type"]] for v in values), output
            assert values == param.get("allowedValues", values), output
            assert param["defaultValue"] in values, output
        elif element["type"] == "Microsoft.Common.Slider":
            assert (element["min"], element["max"]) == (param["minValue"], param["maxValue"])
            assert element["defaultValue"] == param["defaultValue"]


def test_create_ui_definition_validations() -> None:
    elements = _ui_elements()
    prefix = re.compile(elements["basics('namePrefix')"]["constraints"]["regex"])
    assert prefix.fullmatch("myschool") and prefix.fullmatch("liceo-galilei2")
    for bad in ("My School", "x", "-school", "school-", "a" * 25):
        assert not prefix.fullmatch(bad), bad
    email = re.compile(elements["basics('adminEmail')"]["constraints"]["regex"])
    assert email.fullmatch("it@school.example")
    for bad in ("it@school", "it school@x.eu", "@school.eu"):
        assert not email.fullmatch(bad), bad
    # the prefix must also fit the template's environmentName limits
    env = arm_template()["parameters"]["environmentName"]
    assert env["minLength"] <= 3 and env["maxLength"] >= 24


def test_azure_yaml_and_parameters_for_azd() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^name: convergio-core$", text, re.M)
    service = re.search(r"^services:\n  api:\n((?:    .*\n)+)", text, re.M)
    assert service, "service 'api' missing"
    fields = dict(line.strip().split(": ", 1) for line in service.group(1).splitlines())
    assert fields == {"project": ".", "language": "python", "host": "function"}
    tags = bicep_files()["main.bicep"]["modules"]["api"]["config"]["params"]["tags"]["function"]
    assert tags["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
    site = only(arm_resources(arm_template()), "Microsoft.Web/sites")
    assert "createObject('azd-service-name', 'api')" in site["tags"]

    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION=westeurope}"
    assert set(parameters) <= set(bicep_files()["main.bicep"]["parameters"])


def test_parameters_agree_between_templates() -> None:
    bicep = bicep_files()["main.bicep"]["parameters"]
    arm = arm_template()["parameters"]
    # resourceGroupName only exists at subscription scope
    assert set(arm) == set(bicep) - {"resourceGroupName"}
    for name, param in arm.items():
        assert param.get("defaultValue") == bicep[name]["default"], name


def test_the_usage_containers_partition_key_is_a_field_of_the_ledgers_documents() -> None:
    from convergio.metering import UsageRecord

    record = UsageRecord(
        "t",
        "r",
        "n",
        1,
        "offline",
        "m",
        "byok",
        "tool_calls",
        1,
        Decimal(0),
        Decimal(0),
        "2026-01-01T00:00:00Z",
    )
    containers = only(bicep_resources(), "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers")
    field_name = containers["properties"]["resource"]["partitionKey"]["paths"][0].lstrip("/")
    assert record.to_json()[field_name] == "t"


# ---------------------------------------------------------------- the code (ADR 0019)

RELEASE_PACKAGE = "https://github.com/convergio/convergio-core/releases/latest/download/convergio-app.zip"


def test_both_templates_deploy_the_package_from_package_uri() -> None:
    """The 'onedeploy' site extension pulls the zip at packageUri; empty deploys no code."""
    main = bicep_files()["main.bicep"]
    assert main["parameters"]["packageUri"]["default"] == RELEASE_PACKAGE
    assert module_body(main["modules"]["api"])["params"]["packageUri"] == "packageUri"
    function = bicep_files()["app/function.bicep"]
    deploy = function["resources"]["packageDeployment"]
    assert (deploy["type"], deploy["api_version"]) == ("Microsoft.Web/sites/extensions", "2024-04-01")
    condition = deploy["config"]["condition"]["operator"]
    assert condition["type"] == "not"
    assert condition["operands"]["bool_value"]["function"]["parameters"] == {"item_to_test": "packageUri"}
    body = deploy["config"]["config"]
    assert (body["parent"], body["name"]) == ("functionApp", "onedeploy")
    assert body["properties"] == {"packageUri": "packageUri", "remoteBuild": False}

    template = arm_template()
    assert template["parameters"]["packageUri"]["defaultValue"] == RELEASE_PACKAGE
    arm_deploy = only(arm_resources(template), "Microsoft.Web/sites/extensions")
    assert arm_deploy["apiVersion"] == "2024-04-01"
    assert arm_deploy["name"] == "[format('{0}/onedeploy', variables('names').functionApp)]"
    assert arm_deploy["condition"] == "[not(empty(parameters('packageUri')))]"
    assert arm_deploy["properties"] == {"packageUri": "[parameters('packageUri')]", "remoteBuild": False}
    assert arm_deploy["dependsOn"] == ["[resourceId('Microsoft.Web/sites', variables('names').functionApp)]"]
    # azd deploys the working tree itself: its parameters turn the release package off
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["packageUri"]["value"] == ""


def test_outputs_name_the_console_and_the_next_step() -> None:
    outputs = bicep_files()["main.bicep"]["outputs"]
    assert dotted(outputs["CONVERGIO_CONSOLE_URL"]["value"]) == "api.outputs.consoleUrl"
    function_outputs = bicep_files()["app/function.bicep"]["outputs"]
    assert (
        function_outputs["consoleUrl"]["value"]
        == "https://${functionApp.properties.defaultHostName}/api/app/"
    )
    steps = outputs["NEXT_STEPS"]["value"]["operator"]["operands"]
    assert "azd deploy" in steps["true_value"] and "${api.outputs.consoleUrl}" in steps["false_value"]
    arm = arm_template()["outputs"]
    host = (
        "reference(resourceId('Microsoft.Web/sites', variables('names').functionApp), "
        "'2024-04-01').defaultHostName"
    )
    assert arm["CONVERGIO_CONSOLE_URL"]["value"] == f"[format('https://{{0}}/api/app/', {host})]"
    assert arm["NEXT_STEPS"]["value"].startswith("[if(empty(parameters('packageUri')), ")
    assert "https://{0}/api/app/" in arm["NEXT_STEPS"]["value"]
    # the route the console is served on is the one the outputs name
    web = (ROOT / "convergio" / "api" / "_web.py").read_text(encoding="utf-8")
    assert 'route="app/{*path}"' in web
    assert (
        json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["http"]["routePrefix"]
        == "api"
    )
