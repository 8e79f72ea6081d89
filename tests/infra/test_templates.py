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
from tests.infra import _arm as arm

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
# Roles the deployer gets, to read the one-time setup code in the portal (and nothing else).
DEPLOYER_ROLE_IDS = {
    "21090545-7ca7-4776-b22c-e363652d74d2",  # Key Vault Reader (metadata: list the vault's secrets)
    "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User (on the setup code secret only)
}
SETUP_CODE_SECRET = "convergio-setup-code"
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


def resource_body(resource: dict[str, Any]) -> dict[str, Any]:
    """A Bicep resource's body, also inside a loop or under an `if (...)` condition."""
    body: dict[str, Any] = resource["config"]
    if "loop_type" in body:
        body = body["config"]
    if "condition" in body:
        body = body["config"]
    return body


def bicep_resources() -> list[tuple[str, dict[str, Any]]]:
    """(type, body) of every resource in main.bicep and its modules; loops and conditions unwrapped."""
    found = []
    for tree in bicep_files().values():
        for resource in (tree.get("resources") or {}).values():
            found.append((resource["type"], resource_body(resource)))
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
            if isinstance(var["value"], str) and var["value"] in ROLE_IDS | DEPLOYER_ROLE_IDS:
                role_vars[name] = var["value"]
    assert set(role_vars.values()) == ROLE_IDS | DEPLOYER_ROLE_IDS
    assigned = set()
    for rtype, body in bicep_resources():
        if rtype in (
            "Microsoft.Authorization/roleAssignments",
            "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
        ):
            guid = body["name"]["function"]
            assert guid["type"] == "guid"
            args = [dotted(arg) for arg in guid["parameters"].values()]
            # guid(scope, identityId, roleId) as in ARM; deployer: guid(scope, deployerObjectId, roleId)
            principal = "identityId" if role_vars[args[2]] in ROLE_IDS else DEPLOYER
            assert args[1] == principal, args
            assigned.add(role_vars[args[2]])
    assert assigned == ROLE_IDS | DEPLOYER_ROLE_IDS
    template = arm_template()
    assert set(template["variables"]["roles"].values()) == ROLE_IDS | DEPLOYER_ROLE_IDS
    arm_assigned = set()
    for rtype, resource in arm_resources(template):
        if rtype.lower().endswith("roleassignments"):
            match = re.search(r"guid\(.*variables\('roles'\)\.(\w+)\)", resource["name"])
            assert match, resource["name"]
            arm_assigned.add(template["variables"]["roles"][match.group(1)])
    assert arm_assigned == ROLE_IDS | DEPLOYER_ROLE_IDS


# The deployer's assignments are named guid(scope, deployerObjectId, role): in ARM an empty
# deployerObjectId is deployer().objectId, in Bicep azd passes its signed-in principal.
DEPLOYER = "deployerObjectId"


def dotted(expression: Any) -> Any:
    """``a.b.c`` from pycep's nested property accessors (other expressions unchanged);
    a call without arguments reads ``f()``, as in ``deployer().objectId``."""
    if isinstance(expression, dict) and expression.get("operator", {}).get("type") == "property_accessor":
        operands = expression["operator"]["operands"]
        return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
    if isinstance(expression, dict) and set(expression) == {"function"}:
        function = expression["function"]
        if all(value is None for value in function["parameters"].values()):
            return f"{function['type']}()"
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
            guid = resource_body(resource)["name"]["function"]
            assert guid["type"] == "guid"
            scope, identity, role = (dotted(arg) for arg in guid["parameters"].values())
            symbol, _, attribute = scope.partition(".")
            assert attribute == "id", scope
            found.add((resources[symbol]["type"], identity, variables[role]["value"]))
    return found


def _arm_role_assignment_names(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(scope resource type, principal, role id) of each ARM role assignment, after checking that its
    evaluated name is guid(scope id, principal key, role id): the identity's resource id for the app's
    identity (never its principal id, which ARM cannot use in a name), deployer().objectId for the
    deployer. The tuples read as the Bicep ones do, so the two sets compare."""
    evaluated = arm.Template(template, {"environmentName": "school", "useDurableTaskScheduler": True})
    identity_id = evaluated.evaluate(
        "resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('names').identity)"
    )
    found = set()
    for resource in evaluated.deployed():
        if not resource.type.endswith(("/roleAssignments", "/sqlRoleAssignments")):
            continue
        properties = resource.properties
        if resource.type == "Microsoft.Authorization/roleAssignments":
            scope_id = resource.id.rsplit("/providers/Microsoft.Authorization/", 1)[0]
        else:
            scope_id = properties["scope"]
        principal = properties["principalId"]
        if principal == arm.DEPLOYER_OBJECT_ID:
            key, kind = arm.DEPLOYER_OBJECT_ID, DEPLOYER
        else:
            assert str(principal) == f"<reference {identity_id}>.principalId", principal
            key, kind = identity_id, "identityId"
        role = properties["roleDefinitionId"].rsplit("/", 1)[-1]
        assert resource.name.rsplit("/", 1)[-1] == arm._guid(scope_id, key, role), resource.raw["name"]
        found.add((evaluated.scope_type(scope_id), kind, role))
    return found


def test_role_assignment_names_are_computed_the_same_way_in_both_templates() -> None:
    """guid(scope id, identity resource id, role id) in both: one name per assignment, whichever route.

    Different formulas (principal id in one, identity id in the other) give one assignment two
    names, and the second route into a resource group fails with RoleAssignmentExists. The
    deployer's two assignments (to read the setup code) are guid(scope id, deployerObjectId, role id)
    in both (ARM: deployer().objectId when that parameter is empty).
    """
    bicep = _bicep_role_assignment_names()
    assert len(bicep) == len(ROLE_IDS | DEPLOYER_ROLE_IDS)
    assert {role for _, identity, role in bicep if identity == "identityId"} == ROLE_IDS
    assert {(scope, role) for scope, identity, role in bicep if identity == DEPLOYER} == {
        ("Microsoft.KeyVault/vaults", "21090545-7ca7-4776-b22c-e363652d74d2"),
        ("Microsoft.KeyVault/vaults/secrets", "4633458b-17de-408a-b874-0445c86b69e6"),
    }
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


def _evaluated(**parameters: Any) -> arm.Template:
    return arm.Template(arm_template(), {"environmentName": "school", **parameters})


def _one(resources: list[arm.Deployed], rtype: str, name_end: str = "") -> arm.Deployed:
    matches = [r for r in resources if r.type == rtype and r.id.endswith(name_end)]
    assert len(matches) == 1, f"expected one {rtype} *{name_end}, found {len(matches)}"
    return matches[0]


def test_arm_site_waits_for_its_deployment_container_and_role_assignments() -> None:
    """In Bicep the api module takes outputs of every module, so the site comes after all of them.

    The ARM twin must say so: Flex Consumption reads the package from the deployment container
    with the app's identity, and the app starts using Key Vault, Cosmos DB and storage at once
    (and resolves its setup code, a Key Vault reference, with that identity).
    """
    for scheduler in (False, True):
        evaluated = _evaluated(useDurableTaskScheduler=scheduler)
        resources = evaluated.deployed()
        site = _one(resources, "Microsoft.Web/sites")
        container = _one(resources, "Microsoft.Storage/storageAccounts/blobServices/containers")
        assert container.id in site.depends_on
        identity_assignments = [
            r
            for r in resources
            if r.type.endswith(("/roleAssignments", "/sqlRoleAssignments"))
            and r.properties["principalId"] != arm.DEPLOYER_OBJECT_ID
        ]
        assert len(identity_assignments) == len(ROLE_IDS) - (0 if scheduler else 1)
        missing = {r.id for r in identity_assignments} - set(site.depends_on)
        assert not missing, missing
        secret = _one(resources, "Microsoft.KeyVault/vaults/secrets")
        assert secret.id in site.depends_on
    # in Bicep the api module depends on every module that holds an assignment (through outputs)
    main = bicep_files()["main.bicep"]
    api_params = module_body(main["modules"]["api"])["params"]
    assert module_references(api_params) == set(main["modules"]) - {"api"}
    assert dotted(api_params["deploymentContainerUrl"]) == "storage.outputs.deploymentContainerUrl"
    assert dotted(api_params["setupCodeUri"]) == "keyVault.outputs.setupCodeUri"


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
        "entraClientId",
        "entraTenantId",
        "packageUri",
    }
    # the setup code is never typed into the wizard: the template generates it
    assert "setupCode" not in outputs
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
    arm_params = arm_template()["parameters"]
    # resourceGroupName only exists at subscription scope
    assert set(arm_params) == set(bicep) - {"resourceGroupName"}
    for name, param in arm_params.items():
        if name == "setupCode":  # a function, not a value: newGuid() in both
            assert param["defaultValue"] == "[newGuid()]"
            assert bicep[name]["default"] == {"function": {"type": "new_guid"}}
        else:
            assert param.get("defaultValue") == bicep[name]["default"], name
        secure = {"type": "secure"} in bicep[name]["decorators"]
        assert (param["type"] == "securestring") == secure, name


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
    assert arm_deploy["dependsOn"] == [
        "[resourceId('Microsoft.Web/sites', variables('names').functionApp)]",
        "[resourceId('Microsoft.Web/sites/config', variables('names').functionApp, 'authsettingsV2')]",
    ]
    assert [dotted(d) for d in body["dependsOn"]] == ["authSettings"]
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
    assert "azd deploy" in steps["true_value"] and "${api.outputs.setupUrl}" in steps["false_value"]
    arm = arm_template()["outputs"]
    host = (
        "reference(resourceId('Microsoft.Web/sites', variables('names').functionApp), "
        "'2024-04-01').defaultHostName"
    )
    assert arm["CONVERGIO_CONSOLE_URL"]["value"] == f"[format('https://{{0}}/api/app/', {host})]"
    assert arm["NEXT_STEPS"]["value"].startswith("[if(empty(parameters('packageUri')), ")
    assert "https://{1}/api/app/setup" in arm["NEXT_STEPS"]["value"]
    # the route the console is served on is the one the outputs name
    from convergio.api._routes import ROUTES  # the function table the API registers from

    assert [(r.route, r.methods) for r in ROUTES if r.name == "web_app"] == [("app/{*path}", ("GET",))]
    assert (
        json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["http"]["routePrefix"]
        == "api"
    )


# ---------------------------------------------------------------- claim and sign-in (issue 20)

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-8888-7777-6666-555555555555"


def bicep_value(node: Any, env: dict[str, Any]) -> Any:
    """Evaluate the part of pycep's Bicep AST these templates use, with names bound in ``env``:
    names and dotted names, ``${...}`` interpolation, !, ?:, empty(), objects and arrays."""
    if node is None or isinstance(node, bool | int):
        return node
    if isinstance(node, str):
        if node in env:
            return env[node]
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(env[m.group(1)]), node)
    if isinstance(node, list):
        return [bicep_value(item, env) for item in node]
    name = dotted(node)
    if isinstance(name, str):
        return env[name]
    if set(node) == {"operator"}:
        operator = node["operator"]
        operands = operator["operands"]
        if operator["type"] == "not":
            return not bicep_value(operands["bool_value"], env)
        if operator["type"] == "conditional":
            branch = "true_value" if bicep_value(operands["condition"], env) else "false_value"
            return bicep_value(operands[branch], env)
        raise NotImplementedError(operator["type"])
    if set(node) == {"function"}:
        function = node["function"]
        if function["type"] == "empty":
            return len(bicep_value(function["parameters"]["item_to_test"], env)) == 0
        raise NotImplementedError(function["type"])
    return {key: bicep_value(value, env) for key, value in node.items()}


def _bicep_function_env(client_id: str, tenant_id: str, evaluated: arm.Template) -> dict[str, Any]:
    """app/function.bicep's inputs as main.bicep passes them, with the Azure-side values ARM sees."""
    main = bicep_files()["main.bicep"]
    api = module_body(main["modules"]["api"])["params"]
    function = bicep_files()["app/function.bicep"]
    host = evaluated.evaluate(
        "reference(resourceId('Microsoft.Web/sites', variables('names').functionApp)).defaultHostName"
    )
    vault_uri = evaluated.evaluate(
        "reference(resourceId('Microsoft.KeyVault/vaults', variables('names').keyVault)).vaultUri"
    )
    keyvault = bicep_files()["core/keyvault.bicep"]
    secret_uri = bicep_value(
        keyvault["outputs"]["setupCodeUri"]["value"],
        {
            "vault.properties.vaultUri": vault_uri,
            "setupCodeSecret.name": keyvault["parameters"]["setupCodeName"]["default"],
        },
    )
    env: dict[str, Any] = {
        "entraClientId": client_id,
        "entraTenantId": bicep_value(
            api["entraTenantId"], {"entraTenantId": tenant_id, "subscription().tenantId": arm.TENANT_ID}
        ),
        "setupCodeUri": secret_uri,
        "functionApp.properties.defaultHostName": host,
        "functionApp.name": evaluated.evaluate("variables('names').functionApp"),
    }
    for name in ("useEntraSignIn",):
        env[name] = bicep_value(function["variables"][name]["value"], env)
    return env


def _setting(resources: list[arm.Deployed], name: str) -> str:
    site = _one(resources, "Microsoft.Web/sites")
    values = [s["value"] for s in site.properties["siteConfig"]["appSettings"] if s["name"] == name]
    assert len(values) == 1, name
    return str(values[0])


def test_setup_code_is_a_key_vault_secret_the_app_reads_by_reference() -> None:
    """The code is generated per deployment, kept only in the vault, and reaches the app as a Key
    Vault reference that the platform resolves with the app's identity."""
    main = bicep_files()["main.bicep"]
    assert {"type": "secure"} in main["parameters"]["setupCode"]["decorators"]
    assert module_body(main["modules"]["keyVault"])["params"]["setupCode"] == "setupCode"
    keyvault = bicep_files()["core/keyvault.bicep"]
    assert {"type": "secure"} in keyvault["parameters"]["setupCode"]["decorators"]
    assert keyvault["parameters"]["setupCodeName"]["default"] == SETUP_CODE_SECRET
    secret = keyvault["resources"]["setupCodeSecret"]
    assert secret["type"] == "Microsoft.KeyVault/vaults/secrets"
    body = secret["config"]
    assert (body["parent"], body["name"]) == ("vault", "setupCodeName")
    assert body["properties"] == {"value": "setupCode", "contentType": "text/plain"}
    assert (
        bicep_files()["app/function.bicep"]["resources"]["functionApp"]["config"]["properties"][
            "keyVaultReferenceIdentity"
        ]
        == "identityId"
    )

    template = arm_template()
    assert template["parameters"]["setupCode"]["type"] == "securestring"
    assert template["variables"]["setupCodeName"] == SETUP_CODE_SECRET
    code = "a-code-only-the-vault-holds"
    for parameters in ({}, {"setupCode": code}):
        evaluated = _evaluated(**parameters)
        resources = evaluated.deployed()
        expected_code = parameters.get("setupCode", arm.NEW_GUID)  # default: newGuid()
        vault = _one(resources, "Microsoft.KeyVault/vaults")
        secret_resource = _one(resources, "Microsoft.KeyVault/vaults/secrets")
        assert secret_resource.id == f"{vault.id}/secrets/{SETUP_CODE_SECRET}"
        assert secret_resource.properties == {"value": expected_code, "contentType": "text/plain"}
        reference = (
            f"@Microsoft.KeyVault(SecretUri=https://{vault.name}.vault.azure.net/secrets/{SETUP_CODE_SECRET})"
        )
        assert _setting(resources, "CONVERGIO_SETUP_CODE") == reference
        # identical in main.bicep's route
        env = _bicep_function_env("", "", evaluated)
        settings = bicep_files()["app/function.bicep"]["variables"]["convergioSettings"]["value"]
        assert bicep_value(settings["CONVERGIO_SETUP_CODE"], env) == reference
        # the platform resolves the reference as the app's identity, which may read the vault's secrets
        site = _one(resources, "Microsoft.Web/sites")
        identity = _one(resources, "Microsoft.ManagedIdentity/userAssignedIdentities")
        assert site.properties["keyVaultReferenceIdentity"] == identity.id
        assert (
            f"{vault.id}/providers/Microsoft.Authorization/roleAssignments/"
            + arm._guid(vault.id, identity.id, "b86a8fe4-44ce-4948-aee5-eccb2c155cd7")
            in site.depends_on
        )
        # the code itself is in the vault only: not in any app setting, output or other resource
        if parameters:
            for resource in resources:
                if resource is not secret_resource:
                    assert code not in json.dumps(resource.properties, default=str), resource.id
            assert code not in json.dumps(evaluated.outputs(), default=str)


def test_the_deployer_may_read_the_setup_code_and_no_other_secret() -> None:
    """Owner of a resource group has no data-plane access to a RBAC vault: the template lets the
    deployer list the vault's secrets (Key Vault Reader, metadata only) and read the setup code's
    value (Key Vault Secrets User on that one secret)."""
    resources = _evaluated().deployed()
    vault = _one(resources, "Microsoft.KeyVault/vaults")
    secret = _one(resources, "Microsoft.KeyVault/vaults/secrets")
    granted = {
        (r.id.rsplit("/providers/Microsoft.Authorization/", 1)[0], r.properties["roleDefinitionId"][-36:])
        for r in resources
        if r.type == "Microsoft.Authorization/roleAssignments"
        and r.properties["principalId"] == arm.DEPLOYER_OBJECT_ID
    }
    assert granted == {
        (vault.id, "21090545-7ca7-4776-b22c-e363652d74d2"),
        (secret.id, "4633458b-17de-408a-b874-0445c86b69e6"),
    }
    for r in resources:
        if r.type == "Microsoft.Authorization/roleAssignments" and r.id.startswith(secret.id):
            assert secret.id in r.depends_on
            assert "principalType" not in r.properties  # a user or a pipeline's service principal
    # an explicit principal instead of the deployer: the same names in both templates
    given = "00000000-0000-0000-0000-00000000f00d"
    named = {
        r.name
        for r in _evaluated(deployerObjectId=given).deployed()
        if r.type == "Microsoft.Authorization/roleAssignments" and r.properties["principalId"] == given
    }
    assert named == {
        arm._guid(vault.id, given, "21090545-7ca7-4776-b22c-e363652d74d2"),
        arm._guid(secret.id, given, "4633458b-17de-408a-b874-0445c86b69e6"),
    }
    keyvault = bicep_files()["core/keyvault.bicep"]["resources"]
    for symbol, scope in (("deployerReader", "vault"), ("deployerSetupCodeReader", "setupCodeSecret")):
        condition = keyvault[symbol]["config"]["condition"]
        assert bicep_value(condition, {DEPLOYER: ""}) is False
        assert bicep_value(condition, {DEPLOYER: given}) is True
        body = keyvault[symbol]["config"]["config"]
        assert body["scope"] == scope
        assert body["properties"]["principalId"] == DEPLOYER
        assert "principalType" not in body["properties"]
    main = bicep_files()["main.bicep"]
    assert module_body(main["modules"]["keyVault"])["params"][DEPLOYER] == DEPLOYER
    # azd fills it with its signed-in principal
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters[DEPLOYER]["value"] == "${AZURE_PRINCIPAL_ID}"


@pytest.mark.parametrize("tenant_id", ["", OTHER_TENANT])
@pytest.mark.parametrize("client_id", ["", CLIENT_ID])
def test_entra_sign_in_only_with_a_client_id(client_id: str, tenant_id: str) -> None:
    """authsettingsV2 exists iff entraClientId is given, allows anonymous requests (API keys),
    keeps tokens, and the app trusts principal headers exactly then; the same in both templates."""
    evaluated = _evaluated(entraClientId=client_id, entraTenantId=tenant_id)
    resources = evaluated.deployed()
    auth = [r for r in resources if r.type == "Microsoft.Web/sites/config"]
    trust = _setting(resources, "CONVERGIO_TRUST_PRINCIPAL_HEADERS")

    function = bicep_files()["app/function.bicep"]
    env = _bicep_function_env(client_id, tenant_id, evaluated)
    bicep_auth = function["resources"]["authSettings"]["config"]
    settings = function["variables"]["convergioSettings"]["value"]
    assert bicep_value(settings["CONVERGIO_TRUST_PRINCIPAL_HEADERS"], env) == trust
    assert bicep_value(bicep_auth["condition"], env) is bool(auth)

    if not client_id:
        assert auth == []
        assert trust == "false"
        return
    assert trust == "true"
    (config,) = auth
    site = _one(resources, "Microsoft.Web/sites")
    assert config.id == f"{site.id}/config/authsettingsV2"
    assert config.properties == {
        "platform": {"enabled": True},
        "globalValidation": {"requireAuthentication": False, "unauthenticatedClientAction": "AllowAnonymous"},
        "httpSettings": {"requireHttps": True},
        "identityProviders": {
            "azureActiveDirectory": {
                "enabled": True,
                "registration": {
                    "clientId": client_id,
                    "openIdIssuer": f"https://login.microsoftonline.com/{tenant_id or arm.TENANT_ID}/v2.0",
                },
                "validation": {"allowedAudiences": [f"api://{client_id}"]},
            }
        },
        "login": {"tokenStore": {"enabled": True}},
    }
    assert bicep_auth["config"]["name"] == "authsettingsV2"
    assert bicep_auth["config"]["parent"] == "functionApp"
    assert bicep_value(bicep_auth["config"]["properties"], env) == config.properties


@pytest.mark.parametrize("client_id", ["", CLIENT_ID])
@pytest.mark.parametrize("scheduler", [False, True])
def test_the_code_is_deployed_last(client_id: str, scheduler: bool) -> None:
    """ARM creates resources in dependsOn order: every dependency names a resource of the template,
    there is no cycle, and 'onedeploy' comes after the storage, its deployment container, the
    app's role assignments, the setup code secret, the site and (with sign-in) its auth settings."""
    evaluated = _evaluated(entraClientId=client_id, useDurableTaskScheduler=scheduler)
    resources = evaluated.deployed()
    order = arm.deployment_order(resources, evaluated.all_ids())
    code = _one(resources, "Microsoft.Web/sites/extensions", "/extensions/onedeploy")
    must_precede = [
        _one(resources, "Microsoft.Storage/storageAccounts"),
        _one(resources, "Microsoft.Storage/storageAccounts/blobServices/containers"),
        _one(resources, "Microsoft.KeyVault/vaults/secrets"),
        _one(resources, "Microsoft.Web/sites"),
        *[
            r
            for r in resources
            if r.type.endswith(("/roleAssignments", "/sqlRoleAssignments"))
            and r.properties["principalId"] != arm.DEPLOYER_OBJECT_ID
        ],
        *[r for r in resources if r.type == "Microsoft.Web/sites/config"],
    ]
    assert len(must_precede) == 4 + len(ROLE_IDS) - (0 if scheduler else 1) + (1 if client_id else 0)
    for resource in must_precede:
        assert arm.before(resources, resource.id, code.id), resource.id
        assert order.index(resource.id) < order.index(code.id)
    # no code without a package
    assert not [
        r
        for r in _evaluated(packageUri="", entraClientId=client_id).deployed()
        if r.type == "Microsoft.Web/sites/extensions"
    ]
    # the check sees a missing dependency
    drifted = copy.deepcopy(arm_template())
    site = only(arm_resources(drifted), "Microsoft.Web/sites")
    site["dependsOn"] = [d for d in site["dependsOn"] if "blobServices/containers" not in d]
    drifted_resources = arm.Template(drifted, {"environmentName": "school"}).deployed()
    container = _one(drifted_resources, "Microsoft.Storage/storageAccounts/blobServices/containers")
    code = _one(drifted_resources, "Microsoft.Web/sites/extensions")
    assert not arm.before(drifted_resources, container.id, code.id)


@pytest.mark.parametrize("package_uri", ["", RELEASE_PACKAGE])
def test_outputs_lead_the_school_to_the_setup_page(package_uri: str) -> None:
    """Console URL, setup URL, redirect URI and next steps: the same text from both templates,
    naming the vault and secret that hold the setup code (never the code)."""
    evaluated = _evaluated(packageUri=package_uri, setupCode="never-in-an-output")
    outputs = evaluated.outputs()
    site = _one(evaluated.deployed(), "Microsoft.Web/sites")
    vault = _one(evaluated.deployed(), "Microsoft.KeyVault/vaults")
    host = f"https://{site.name}.azurewebsites.net"
    assert outputs["CONVERGIO_CONSOLE_URL"] == f"{host}/api/app/"
    assert outputs["CONVERGIO_SETUP_URL"] == f"{host}/api/app/setup"
    assert outputs["ENTRA_REDIRECT_URI"] == f"{host}/.auth/login/aad/callback"
    assert (
        outputs["SETUP_CODE_LOCATION"] == f"Key Vault {vault.name} > Objects > Secrets > {SETUP_CODE_SECRET}"
    )
    steps = outputs["NEXT_STEPS"]
    assert f"Key Vault {vault.name} > Objects > Secrets > {SETUP_CODE_SECRET}" in steps
    assert f"{host}/api/app/setup" in steps
    assert "never-in-an-output" not in json.dumps(outputs, default=str)

    main = bicep_files()["main.bicep"]
    function = bicep_files()["app/function.bicep"]
    env = _bicep_function_env("", "", evaluated)
    api_outputs = {f"api.outputs.{n}": bicep_value(o["value"], env) for n, o in function["outputs"].items()}
    bicep_env = {
        **api_outputs,
        "packageUri": package_uri,
        "names.keyVault": vault.name,
        "keyVault.outputs.setupCodeName": SETUP_CODE_SECRET,
    }
    for name in (
        "CONVERGIO_CONSOLE_URL",
        "CONVERGIO_SETUP_URL",
        "ENTRA_REDIRECT_URI",
        "SETUP_CODE_LOCATION",
    ):
        assert bicep_value(main["outputs"][name]["value"], bicep_env) == outputs[name], name
    assert bicep_value(main["outputs"]["NEXT_STEPS"]["value"], bicep_env) == steps


def test_create_ui_definition_explains_the_setup_code_and_offers_sign_in() -> None:
    elements = _ui_elements()
    info = " ".join(
        e["options"]["text"] for e in elements.values() if e["type"] == "Microsoft.Common.InfoBox"
    )
    for phrase in (
        SETUP_CODE_SECRET,
        "Key Vault",
        "Show Secret Value",
        "/api/app/setup",
        "/.auth/login/aad/callback",
    ):
        assert phrase in info, phrase
    params = arm_template()["parameters"]
    package = elements["steps('advanced').packageUri"]
    assert package["defaultValue"] == params["packageUri"]["defaultValue"] == RELEASE_PACKAGE
    package_rule = re.compile(package["constraints"]["regex"])
    assert package_rule.fullmatch(RELEASE_PACKAGE) and package_rule.fullmatch("")
    assert not package_rule.fullmatch("http://example.org/app.zip")
    for name in ("entraClientId", "entraTenantId"):
        element = elements[f"steps('claim').{name}"]
        assert element["defaultValue"] == params[name]["defaultValue"] == ""
        assert element["constraints"]["required"] is False
        rule = re.compile(element["constraints"]["regex"])
        assert rule.fullmatch("") and rule.fullmatch(CLIENT_ID)
        assert not rule.fullmatch("my-app") and not rule.fullmatch(CLIENT_ID + "0")
