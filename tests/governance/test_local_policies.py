"""A domain adds its own policies; it can never replace or switch off a global one."""

from __future__ import annotations

import dagster as dg
import pytest

from mesh_platform import domain_definitions
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import Policy, PolicyContext, PolicyError, PolicyViolation, combine, evaluate, policy
from mesh_platform.model.product import PythonProduct
from mesh_platform.runtime.global_policies import GLOBAL_POLICIES
from tests.helpers.mini_mesh import edited, write_mesh


@policy("lab-readings-tagged", "Every lab product carries the 'instrument' tag, so the lab's catalogue can list them.")
def tagged(product, context):
    if "instrument" not in product.descriptor.tags:
        yield f"{product.id} has no 'instrument' tag"


def readings_impl():
    return PythonProduct("readings", lambda airports: airports.assign(station=airports["faa"], reading_value=1.0)[["station", "reading_value"]])


def definitions(root, policies):
    return domain_definitions(root / "domains" / "lab" / "definitions.py", products=[readings_impl()], policies=policies)


def test_a_local_policy_adds_a_rule_for_its_own_domain_only(tmp_path, mesh_home):
    mesh = Mesh.load(write_mesh(tmp_path, edited()))
    report = evaluate(mesh.products(), PolicyContext(mesh), combine(GLOBAL_POLICIES, [tagged], "lab"))
    local = [f for f in report.findings if f.policy == "lab-readings-tagged"]
    assert [(f.product, f.status, f.scope) for f in local] == [("lab.readings", "fail", "lab")]
    assert local[0].messages == ("lab.readings has no 'instrument' tag",)


def test_a_violated_local_error_policy_keeps_the_domain_from_deploying(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited())
    with pytest.raises(PolicyViolation) as refused:
        definitions(root, [tagged])
    assert "domain 'lab' is not deployed" in str(refused.value)
    assert "lab.readings violates [lab-readings-tagged]: lab.readings has no 'instrument' tag" in str(refused.value)


def test_a_deployed_product_shows_its_policy_results_in_dagster(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited(lambda f: f["domains/lab"]["products/readings.yaml"].update(tags=["instrument"])))
    defs = definitions(root, [tagged])
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(["lab", "readings"]))
    table = spec.metadata["mesh/policies"].value
    assert "| lab-readings-tagged | error | lab | ✅ pass |" in table
    assert "| owner-contact | error | global | ✅ pass |" in table
    every = len(GLOBAL_POLICIES) + 1  # lab is source-aligned: every global policy applies, plus its own
    assert spec.metadata["mesh/policy_status"] == f"{every} of {every} policies pass"


def test_no_domain_can_replace_or_switch_off_a_global_policy(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited(lambda f: f["domains/lab"]["contracts/readings.odcs.yaml"].pop("team")))
    always_passes = Policy("owner-contact", "Owners are optional in the lab.", "warning", lambda product, context: ())
    with pytest.raises(PolicyError, match="policy 'owner-contact' is a global policy; a domain may add policies but never replace, weaken or switch off a global one"):
        definitions(root, [always_passes])
    with pytest.raises(PolicyError, match=r"policies\[0\] is '-owner-contact', not a Policy"):
        definitions(root, ["-owner-contact"])
    # Without the attempt, the global policy still holds: the domain does not deploy.
    with pytest.raises(PolicyViolation, match=r"lab.readings violates \[owner-contact\]"):
        definitions(root, [])


def test_descriptors_have_no_switch_for_policies(tmp_path):
    root = write_mesh(tmp_path, edited(lambda f: f["domains/lab"]["domain.yaml"].update(policies={"owner-contact": "off"})))
    broken = Mesh.load(root).broken
    [error] = broken.values()
    assert isinstance(error, DescriptorError) and error.field == "policies" and "unknown field" in error.expected


def test_the_global_policy_list_cannot_be_changed_in_place():
    with pytest.raises((TypeError, AttributeError)):
        GLOBAL_POLICIES.append(tagged)  # type: ignore[attr-defined]
    with pytest.raises(Exception):
        GLOBAL_POLICIES[0].severity = "warning"  # type: ignore[misc]
