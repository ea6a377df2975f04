"""The storage grants each identity gets from the access policies (pure: no store, no I/O beyond
the descriptors), and how they are written for SeaweedFS and for AWS IAM. The store enforcing
them is tests/test_storage_access.py."""

from __future__ import annotations

import pytest

from mesh_platform.model.access import sees_personal_data
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.storage_grants import (
    ADMIN, LIST, MASKED, NONE, OWNER, RAW, READ, WRITE, Grant, access_level, access_matrix, storage_grants,
)
from mesh_platform.runtime.objectstore.policy_documents import aws_iam_policies, seaweedfs_config, split_root
from tests.helpers.mini_mesh import OWNER as LAB_OWNER
from tests.helpers.mini_mesh import column, contract, edited, write_mesh

DOMAINS = ("ops", "audit", "lab_archive")


def _product(files: dict, domain: str, name: str, columns: list[dict], **descriptor) -> None:
    folder = files.setdefault(f"domains/{domain}", {
        "domain.yaml": {"name": domain, "kind": "source-aligned", "description": f"The {domain} domain of the test mesh.", "owner": LAB_OWNER},
    })
    folder[f"products/{name}.yaml"] = {"name": name, "description": f"The {name} product of the {domain} domain.", **descriptor}
    folder[f"contracts/{name}.odcs.yaml"] = contract(domain, name, columns)


def _policies(files: dict) -> None:
    """lab.readings stays public; lab gains one product per policy; three more domains read them."""
    email = column("email", classification="pii")
    _product(files, "lab", "patients", [column("patient_id"), email], access="internal", readers=["ops", "audit"], personal_data_readers=["audit"])
    _product(files, "lab", "secrets", [column("formula")], access="restricted")
    _product(files, "lab", "staff", [column("staff_id"), email])  # public, with a personal column
    _product(files, "lab", "notes", [column("note")], access="internal", readers=["ops"])
    for domain in DOMAINS:
        _product(files, domain, "things", [column("thing_id")])


@pytest.fixture(scope="module")
def mesh(tmp_path_factory) -> Mesh:
    return Mesh.load(write_mesh(tmp_path_factory.mktemp("grants"), edited(_policies)))


def test_the_matrix_follows_access_and_personal_data_policies(mesh):
    matrix = access_matrix(mesh)
    assert matrix["lab.readings"] == {"shared": RAW, "lab": OWNER, "ops": RAW, "audit": RAW, "lab_archive": RAW}
    # internal: readers only; a reader outside personal_data_readers reads the masked projection.
    assert matrix["lab.patients"] == {"shared": NONE, "lab": OWNER, "ops": MASKED, "audit": RAW, "lab_archive": NONE}
    assert matrix["lab.notes"] == {"shared": NONE, "lab": OWNER, "ops": RAW, "audit": NONE, "lab_archive": NONE}
    assert matrix["lab.secrets"] == {"shared": NONE, "lab": OWNER, "ops": NONE, "audit": NONE, "lab_archive": NONE}
    # public with a personal column: everyone but its owner reads it masked.
    assert matrix["lab.staff"] == {"shared": MASKED, "lab": OWNER, "ops": MASKED, "audit": MASKED, "lab_archive": MASKED}
    assert matrix["shared.airports"]["lab"] == RAW and matrix["shared.airports"]["shared"] == OWNER


def test_a_domain_writes_only_its_own_folder_and_reads_what_it_may(mesh):
    ops = storage_grants(mesh)["domain-ops"]
    read = ("shared/airports/", "lab/readings/", "lab/notes/", "lab/patients/", "lab/staff/", "audit/things/", "lab_archive/things/")
    # Its own folder, and in each product it reads, its own usage folder (runtime/usage.py) alone.
    assert {g for g in ops if g.action == WRITE} == {Grant(WRITE, "ops/"), *(Grant(WRITE, f"{p}usage/ops/") for p in read)}
    assert {g.prefix for g in ops if g.action == READ} == {
        "ops/", "shared/airports/", "lab/readings/", "lab/notes/", "lab/patients/masked/", "lab/staff/masked/",
        "lab/patients/registry/", "lab/staff/registry/",  # a masked reader reads the registry entry too
        "audit/things/", "lab_archive/things/",
    }
    # It lists every product it reads in any form (Delta lists _delta_log/; majors are folders)...
    assert {g.prefix for g in ops if g.action == LIST} == {
        "ops/", "shared/airports/", "lab/readings/", "lab/notes/", "lab/patients/", "lab/staff/", "audit/things/", "lab_archive/things/",
    }
    # ...and nothing wider: no grant on the root, on another domain's folder, or on a product it may not read.
    assert not any(g.prefix in ("", "lab/", "audit/", "shared/") for g in ops)
    assert not any(g.prefix.startswith("lab/secrets/") for g in ops)


def test_a_personal_data_reader_reads_the_raw_port_and_a_restricted_product_is_its_owners_alone(mesh):
    grants = storage_grants(mesh)
    assert Grant(READ, "lab/patients/") in grants["domain-audit"]
    assert Grant(READ, "lab/patients/masked/") not in grants["domain-audit"]
    readers_of_secrets = {i for i, granted in grants.items() if any(g.prefix.startswith("lab/secrets/") for g in granted)}
    assert readers_of_secrets == set()  # lab reads it through its own folder, the platform through the root
    assert Grant(READ, "lab/") in grants["domain-lab"] and Grant(WRITE, "lab/") in grants["domain-lab"]


def test_every_domain_has_an_identity_the_shared_one_included_and_the_platform_has_everything(mesh):
    grants = storage_grants(mesh)
    assert list(grants) == ["platform", "domain-shared", "domain-audit", "domain-lab", "domain-lab_archive", "domain-ops"]
    assert grants["platform"] == frozenset({Grant(ADMIN, "")})
    listed = {g.prefix for g in grants["domain-shared"] if g.action == LIST} - {"shared/"}
    assert {g for g in grants["domain-shared"] if g.action == WRITE} == {Grant(WRITE, "shared/"), *(Grant(WRITE, f"{p}usage/shared/") for p in listed)}
    assert Grant(READ, "lab/readings/") in grants["domain-shared"]  # grants follow policy: no port is published here


def test_seaweedfs_identities_name_bucket_keys_under_the_root(mesh):
    grants = storage_grants(mesh)
    keys = {i: {"AWS_ACCESS_KEY_ID": f"K{n}", "AWS_SECRET_ACCESS_KEY": f"S{n}"} for n, i in enumerate(grants)}
    config = seaweedfs_config(grants, "s3://lake/mesh/prod", keys)
    by_name = {entry["name"]: entry for entry in config["identities"]}
    assert by_name["platform"]["actions"] == ["Admin", "Read", "Write", "List", "Tagging"]
    lab = by_name["domain-lab"]
    assert lab["credentials"] == [{"accessKey": keys["domain-lab"]["AWS_ACCESS_KEY_ID"], "secretKey": keys["domain-lab"]["AWS_SECRET_ACCESS_KEY"]}]
    assert {"Write:lake/mesh/prod/lab/*", "Read:lake/mesh/prod/lab/*", "List:lake/mesh/prod/lab/*"} <= set(lab["actions"])
    ops = set(by_name["domain-ops"]["actions"])
    assert "Read:lake/mesh/prod/lab/patients/masked/*" in ops and "List:lake/mesh/prod/lab/patients/*" in ops
    assert "Read:lake/mesh/prod/lab/patients/*" not in ops
    # Every action ends in '/*': `lab/` never reaches `lab_archive/`.
    assert all(a.endswith("/*") for entry in config["identities"][1:] for a in entry["actions"])
    bare = seaweedfs_config(grants, "s3://lake", keys)
    assert "Write:lake/ops/*" in {a for e in bare["identities"] if e["name"] == "domain-ops" for a in e["actions"]}


def test_aws_iam_policies_scope_reads_lists_and_writes_by_prefix(mesh):
    policies = aws_iam_policies(storage_grants(mesh), "s3://lake/mesh")
    ops = {s["Sid"]: s for s in policies["domain-ops"]["Statement"]}
    assert "arn:aws:s3:::lake/mesh/ops/*" in ops["WritePorts"]["Resource"]
    # Besides its own folder, only its usage folders of what it reads (runtime/usage.py).
    assert all(r.endswith("/usage/ops/*") for r in ops["WritePorts"]["Resource"] if r != "arn:aws:s3:::lake/mesh/ops/*")
    assert "arn:aws:s3:::lake/mesh/lab/patients/usage/ops/*" in ops["WritePorts"]["Resource"]
    assert "s3:GetObject" not in ops["WritePorts"]["Action"] and "s3:PutObject" in ops["WritePorts"]["Action"]
    assert "arn:aws:s3:::lake/mesh/lab/patients/masked/*" in ops["ReadPorts"]["Resource"]
    assert "arn:aws:s3:::lake/mesh/lab/patients/*" not in ops["ReadPorts"]["Resource"]
    assert ops["ListPorts"]["Resource"] == ["arn:aws:s3:::lake"]
    assert "mesh/lab/patients/*" in ops["ListPorts"]["Condition"]["StringLike"]["s3:prefix"]
    assert policies["domain-lab"]["Version"] == "2012-10-17"
    platform = {s["Sid"]: s for s in policies["platform"]["Statement"]}
    assert platform["ReadPorts"]["Resource"] == ["arn:aws:s3:::lake/mesh/*"]  # the mesh's root, not the account
    assert platform["ListPorts"]["Condition"] == {"StringLike": {"s3:prefix": ["mesh/*"]}}


@pytest.mark.parametrize("root,message", [
    ("/srv/mesh/storage", "a folder of this machine"),
    ("gs://lake/mesh", "not an S3 store"),
    ("s3://lake/mesh/../other", "segment '..'"),
    ("s3://lake//mesh", "segment ''"),
    ("s3://lake/me*sh", "segment 'me\\*sh'"),
    ("s3://Lake_1/mesh", "not an S3 bucket name"),
])
def test_a_root_the_grants_cannot_name_exactly_is_refused_in_one_line(root, message):
    with pytest.raises(MeshError, match=message) as refused:
        split_root(root)
    assert "\n" not in str(refused.value)


def test_a_root_splits_into_bucket_and_key_prefix():
    assert split_root("s3://lake/mesh/prod/") == ("lake", "mesh/prod/")
    assert split_root("s3://lake") == ("lake", "")


def test_a_product_with_a_published_projection_stays_masked_for_readers_without_personal_rights(mesh):
    # Whatever its contract says now: its raw ports were published with personal values.
    for product in mesh.products():
        for domain in mesh.domains:
            now = access_level(product, domain)
            after = access_level(product, domain, frozenset({product.id}))
            if now == RAW and not sees_personal_data(product, domain):
                assert after == MASKED, (product.id, domain)
            else:
                assert after == now, (product.id, domain)
    assert any(access_level(p, d) == RAW and not sees_personal_data(p, d) for p in mesh.products() for d in mesh.domains)



@pytest.mark.parametrize("status", ["draft", "proposed", "retired"])
def test_a_product_not_readable_by_its_status_grants_other_domains_its_registry_entry_alone(tmp_path, status):
    # Its readers are refused by plan_read (model/lifecycle.py); with keys to its port they could
    # still delta_scan('s3://...') it directly, so the store must refuse them as well.
    def drafted(files):
        _policies(files)
        _product(files, "lab", "trial", [column("trial_id"), column("email", classification="pii")])
        files["domains/lab"]["contracts/trial.odcs.yaml"]["status"] = status
    grants = storage_grants(Mesh.load(write_mesh(tmp_path, edited(drafted))))
    for identity in ("domain-ops", "domain-shared"):
        on_trial = {g for g in grants[identity] if g.prefix.startswith("lab/trial/")}
        assert on_trial == {Grant(READ, "lab/trial/registry/"), Grant(LIST, "lab/trial/registry/")}, (identity, on_trial)
        assert Grant(READ, "lab/readings/") in grants[identity]  # an active product is untouched
    assert Grant(WRITE, "lab/") in grants["domain-lab"]  # its owner keeps its own folder
