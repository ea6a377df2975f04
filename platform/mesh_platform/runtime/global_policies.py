"""The mesh's global policies: documentation, interoperability, security, privacy, versioning.

Each is a function yielding one message per violation. They are applied to every product of
every domain, at load, in `mesh validate` and (for data) before each publish; no domain can
remove them (see `policies.combine`).
"""

from __future__ import annotations

import difflib
import re
from graphlib import CycleError, TopologicalSorter

from mesh_platform.model.access import masks_for, may_read, refusal
from mesh_platform.model.contracts.versions import release_problem, withdrawal_problem
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.lifecycle import RETIRED, UNRELEASED, lifecycle_refusal, lifecycle_warning, status_of
from mesh_platform.model.mesh import SHARED_DOMAIN
from mesh_platform.model.names import is_valid_name
from mesh_platform.model.policies import Governance, PolicyContext, PolicyReport, combine, policy
from mesh_platform.model.rules import Metric, Rule, rules_for
from mesh_platform.runtime.validation import validate_product

# The port store (pyarrow.dataset, deltalake) is imported by the two policies that look at
# published ports, when they do: every code location imports this module (issue 12).

PLACEHOLDERS = {"todo", "tbd", "tba", "description", "n/a", "na", "none", "xxx", "wip", "fixme"}
MIN_DESCRIPTION_WORDS = 5
# Column names that almost always hold personal data: they must say what they are.
PERSONAL_NAME_HINTS = re.compile(r"(^|_)(e_?mail|phone|mobile|first_name|last_name|full_name|surname|birth|dob|address|ssn|passport|national_id)(_|$)")
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"


@policy("valid-contract", "The product has a valid ODCS v3 contract: it parses, names this product, its rules run and its relationships point at published products.")
def valid_contract(product: Product, context: PolicyContext):

    try:
        validate_product(product, context.mesh)
    except MeshError as exc:
        yield " ".join(str(exc).split())


@policy("owner-contact", "The product has an owner team and a contact e-mail, and its contract names the team.")
def owner_contact(product: Product, context: PolicyContext):
    if not product.owner.team or not product.owner.contact:
        yield "the product has no owner team and contact (set owner in domain.yaml or the product's descriptor)"
    team = product.contract.odcs.team
    named = team is not None and (getattr(team, "name", None) or getattr(team, "members", None))
    if not named:
        yield f"{product.contract_path.name} names no team: add team.name and its members"


@policy("meaningful-description", f"The product's description says what it holds in at least {MIN_DESCRIPTION_WORDS} words.", severity="warning")
def meaningful_description(product: Product, context: PolicyContext):
    text = " ".join((product.descriptor.description or "").split())
    words = re.findall(r"[A-Za-z]+", text)
    if text.lower().strip(" .") in PLACEHOLDERS or text.lower().replace("_", " ") == product.name.replace("_", " "):
        yield f"the description {text!r} is a placeholder: say what the product holds, for whom"
    elif len(words) < MIN_DESCRIPTION_WORDS:
        yield f"the description {text!r} has {len(words)} words; write at least {MIN_DESCRIPTION_WORDS} that say what the product holds"


@policy("columns-documented", "Every output column has a description.")
def columns_documented(product: Product, context: PolicyContext):
    for column in product.contract.columns:
        text = (column.description or "").strip()
        if len(text) < 3 or text.lower().replace(" ", "_") == column.name.lower():
            yield f"column {column.name!r} has no description in {product.contract_path.name}"


@policy("snake-case-names", "Domain, product, table and column names are snake_case.")
def snake_case_names(product: Product, context: PolicyContext):
    for what, name in (("domain", product.domain), ("product", product.name), ("table", product.contract.table)):
        if not is_valid_name(name):
            yield f"{what} name {name!r} is not snake_case"
    for column in product.contract.columns:
        if not is_valid_name(column.name):
            yield f"column {column.name!r} is not snake_case (e.g. {_snake(column.name)!r})"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def global_identifiers(context: PolicyContext) -> dict[str, str]:
    """Name or business name -> the shared reference column that defines the identifier: every
    key column of the shared domain's products is a global identifier."""
    shared = context.mesh.domains.get(SHARED_DOMAIN)
    identifiers: dict[str, str] = {}
    for reference in (shared.products.values() if shared else ()):
        for column in reference.contract.columns:
            if column.primary_key:
                target = f"{reference.id}.{column.name}"
                identifiers[column.name] = target
                if column.business_name:
                    identifiers[column.business_name] = target
    return identifiers


@policy("global-identifiers", "A column carrying a global identifier (a shared key, by name or businessName) references the shared reference product.")
def references_global_identifiers(product: Product, context: PolicyContext):
    if product.domain == SHARED_DOMAIN:
        return
    identifiers = global_identifiers(context)
    for column in product.contract.columns:
        target = identifiers.get(column.business_name or "") or identifiers.get(column.name)
        if target and target not in column.references:
            yield f"column {column.name!r} carries the global identifier {target} but declares no relationship to it"


@policy("personal-data-protected", "Columns holding personal data are classified and declare how they are masked (hash for text, or redact).")
def personal_data_protected(product: Product, context: PolicyContext):
    for column in product.contract.columns:
        if PERSONAL_NAME_HINTS.search(column.name) and not column.classification:
            yield f"column {column.name!r} looks like personal data but has no classification (e.g. classification: pii, or public if it is not)"
        if column.is_personal and column.masking is None:
            yield f"personal column {column.name!r} declares no masking (customProperties: [{{property: masking, value: hash|redact}}])"
        if column.is_personal and column.masking == "hash" and column.sql_type not in ("VARCHAR",):
            yield f"personal column {column.name!r} is {column.sql_type}: a keyed hash masks text; use redact"


def _personal_data_rules(product: Product) -> list[Rule]:
    """At run time: no unclassified text column carries e-mail addresses. Columns confined to an
    enumeration without an '@' are left out: their accepted-values rule already refuses one.
    A failure reports the column and the rows' positions: the address it found is the very value
    the run history must not keep."""
    return [
        Rule(
            name=f"policy_no_unclassified_email_{column.name.lower()}"[:128],
            description=f"[policy personal-data-protected] {column.name} holds no e-mail address unless classified as personal data",
            severity="error",
            metric=Metric.CONTAINS_PATTERN,
            columns=(column.name,),
            # Every address holds an '@': the compiler runs the regular expression only where one is.
            arguments={"pattern": EMAIL_PATTERN, "marker": "@"},
            hides_values=True,
        )
        for column in product.contract.columns
        if column.sql_type == "VARCHAR" and not column.is_personal and _may_hold_an_address(column)
    ]


def _may_hold_an_address(column) -> bool:
    return not column.enum or any("@" in str(value) for value in column.enum)


personal_data_in_data = policy(
    "no-unclassified-personal-data",
    "At run time, before publishing: no text column that is not classified as personal data holds e-mail addresses.",
    audit_rules=_personal_data_rules,
)(lambda product, context: ())


@policy("source-freshness-sla", "A source-aligned product declares a freshness SLA.", applies_to=lambda p: p.kind == "source-aligned")
def source_freshness(product: Product, context: PolicyContext):
    if product.contract.service_level("freshness") is None:
        yield f"{product.contract_path.name} declares no freshness SLA (slaProperties: - {{property: freshness, value: 1, unit: d}})"


@policy("no-domain-cycles", "Domains do not depend on each other in a cycle.")
def no_domain_cycles(product: Product, context: PolicyContext):
    # A cycle through this product's domain runs through its producers, their producers, ...:
    # only those domains' descriptors are read, not the whole mesh's (issue 12).
    graph: dict[str, set[str]] = {}
    todo = [product.domain]
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        found = context.mesh.domains.get(name)
        graph[name] = {p.domain for other in (found.products.values() if found else ()) for p in other.inputs
                       if p.domain != name and p.domain in context.mesh.domains}
        todo.extend(graph[name])
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle = exc.args[1]
        closing = [p.id for p in product.inputs if product.domain in cycle and p.domain in cycle and p.domain != product.domain]
        if closing:
            yield f"its inputs {', '.join(closing)} close the cycle {' -> '.join(cycle)}"


@policy("readable-inputs", "A consumer only declares inputs (and relationships) it may read under their access level.")
def readable_inputs(product: Product, context: PolicyContext):
    for port in product.inputs:
        producer = context.mesh.find(port.domain, port.product)
        if producer is not None and not may_read(producer, product.domain):
            yield refusal(producer, product.domain, consumer=f"consumer {product.id}")
    for column in product.contract.columns:
        for target in column.references:
            domain, name, _ = target.split(".")
            referenced = context.mesh.find(domain, name)
            if referenced is not None and not may_read(referenced, product.domain):
                yield refusal(referenced, product.domain, consumer=f"consumer {product.id} (relationship of {column.name})")


@policy("released-inputs", "A consumer does not declare an input whose contract is proposed or draft: its owner's alone until active.")
def released_inputs(product: Product, context: PolicyContext):
    for producer in _loaded_inputs(product, context):
        refused = lifecycle_refusal(producer, product.domain, f"consumer {product.id}")
        if refused and status_of(producer) in UNRELEASED:
            yield refused


@policy("deprecated-inputs", "A consumer of a deprecated input is warned, with the date it retires when declared; of a retired one, that its reads are refused.", severity="warning")
def deprecated_inputs(product: Product, context: PolicyContext):
    # A warning, also for a retired input: only the products reading it fail (their reads are
    # refused), not the consumer's whole code location.
    for producer in _loaded_inputs(product, context):
        refused = lifecycle_refusal(producer, product.domain, f"consumer {product.id}")
        if refused and status_of(producer) == RETIRED:
            yield f"{refused}: its reads are refused"
        elif (warning := lifecycle_warning(producer, f"consumer {product.id}", context.today)) is not None:
            yield warning


def _loaded_inputs(product: Product, context: PolicyContext) -> list[Product]:
    """The producers of `product`'s inputs that load (one that does not is available-dependencies')."""
    found = [context.mesh.find(port.domain, port.product) for port in product.inputs]
    return [p for p in found if p is not None and context.mesh.unavailable(p.domain, p.name) is None]


@policy("known-readers", "Every domain a product names in readers or personal_data_readers exists in the mesh.", severity="warning")
def known_readers(product: Product, context: PolicyContext):
    # Flagged at the producer, whose file is wrong: otherwise the misspelt domain's consumers are
    # told they "may not read" it, and the producer hears nothing. A warning: a reader domain that
    # is removed, or broken for now, must not stop the producer from building.
    mesh = context.mesh
    for field in ("readers", "personal_data_readers"):
        for i, name in enumerate(getattr(product.descriptor, field)):
            if name in mesh.domains or mesh.folder_of(name) in mesh.broken:
                continue
            close = difflib.get_close_matches(name, sorted(mesh.domains), n=1, cutoff=0.6)
            yield (f"{_relative(product.path, mesh.root)}: {field}[{i}]: no domain {name!r} in this mesh, so it grants nothing"
                   + (f" (did you mean {close[0]!r}?)" if close else ""))


def _relative(path, root) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _before(product: Product, context: PolicyContext):
    """(major, contract) consumers read now: the contract at `--base` when validate compares with
    a git ref, else the port's last publish that is not withdrawn (a withdrawn major is no base to
    move from); None when there is none (a first version)."""
    if context.base is not None:
        before = context.base(product)
        return None if before is None else (before.major, before)
    from mesh_platform.runtime.ports.store import port_store  # reason: the port store loads when this policy looks, not at import
    from mesh_platform.runtime.ports.withdrawal import latest_serving  # reason: loads with the port store

    return latest_serving(port_store(context.mesh.root, acting=product.domain), product.domain, product.name)


def _compared_with(context: PolicyContext) -> str:
    return "the contract at the base" if context.base is not None else "published contract"


@policy("contract-version", "The contract's version moves with its change against the published port (or the contract at `mesh validate --base`): breaking needs a major bump, additive a minor one.")
def contract_version(product: Product, context: PolicyContext):
    from mesh_platform.runtime.ports.store import port_store  # reason: the port store loads when this policy looks, not at import
    from mesh_platform.runtime.ports.withdrawal import withdrawn_majors  # reason: loads with the port store

    store = port_store(context.mesh.root, acting=product.domain)
    withdrawn = {major: w.reason for major, w in withdrawn_majors(store, product.domain, product.name).items()}
    refused = withdrawal_problem(product.contract, withdrawn)
    if refused:
        yield refused
        return
    published = _before(product, context)
    if published is None:
        return  # never published: any version is the first
    major, before = published
    problem = release_problem(before, major, product.contract)
    if problem:
        yield f"{problem} ({_compared_with(context)} {before.version}; see `mesh contract diff {product.id}`)"


@policy("consumer-impact", "A change to the product's contract breaks no consumer: no column a consumer reads (a dbt model's compiled SQL; all columns of a Python product) is removed or changed, unless the consumer pins the previous major while it stays readable.")
def consumer_impact(product: Product, context: PolicyContext):
    published = _before(product, context)
    if published is None:
        return  # nobody reads it yet
    from mesh_platform.runtime.consumer_impact import broken_consumers  # reason: consumers' SQL is compiled only for a breaking change

    for broken in broken_consumers(context.mesh, product, product.contract, before=published[1], today=context.today):
        yield broken.line()


@policy("declared-columns", "The input columns a product declares it reads (columns:, lineage:) exist in the inputs' contracts, and its lineage names its own columns.")
def declared_columns(product: Product, context: PolicyContext):
    from mesh_platform.runtime.consumer_impact import undeclared_columns  # reason: loads with the policy's first use, beside broken_consumers

    yield from undeclared_columns(context.mesh, product)


@policy("supported-input-versions", "A consumer pinning an older major of an input is warned 30 days before it retires, and after.", severity="warning")
def supported_input_versions(product: Product, context: PolicyContext):

    for port in product.inputs:
        producer = context.mesh.find(port.domain, port.product)
        if producer is None or port.major is None:
            continue
        current = producer.contract.major
        if port.major > current:
            yield f"pins {port.id}@v{port.major}, but its contract is at {producer.contract.version}"
        elif port.major < current:
            from mesh_platform.runtime.ports.majors import retirement_date  # reason: the port store loads only for a pinned older major
            from mesh_platform.runtime.ports.store import port_store  # reason: the port store loads only for a pinned older major
            from mesh_platform.runtime.reading import RETIREMENT_NOTICE  # reason: governed reads load only for a pinned older major
            # A consumer that sees the producer masked reads (and may read) only its projections.
            masked = bool(masks_for(producer, product.domain))
            until = retirement_date(port_store(context.mesh.root, acting=product.domain), port.domain, port.product, port.major, producer.contract, masked)
            if until is not None and context.today > until:
                yield f"pins {port.id}@v{port.major}, retired on {until}: reads are refused; move to v{current}"
            elif until is not None and until - context.today <= RETIREMENT_NOTICE:
                yield f"pins {port.id}@v{port.major}, which retires on {until} ({(until - context.today).days} days); move to v{current}"


@policy("available-dependencies", "Every input port and relationship target of the product loads; one that does not is reported here, and only what needs it fails at build.", severity="warning")
def available_dependencies(product: Product, context: PolicyContext):

    for port in product.inputs:
        reason = context.mesh.unavailable(port.domain, port.product)
        if reason:
            yield f"input port {port.id} cannot be read: {reason}; the product fails at build until it loads"
    for rule in rules_for(product.contract):
        reason = rule.reference and context.mesh.unavailable(*rule.reference[:2])
        if reason:
            effect = "fails the product's build" if rule.blocking else "is reported as failed, without blocking a publish"
            yield f"relationship {rule.column} -> {'.'.join(rule.reference)} cannot be checked: {reason}; its {rule.severity} rule {effect}"


GLOBAL_POLICIES = (
    valid_contract, owner_contact, meaningful_description, columns_documented, snake_case_names,
    references_global_identifiers, personal_data_protected, personal_data_in_data, source_freshness,
    no_domain_cycles, readable_inputs, released_inputs, deprecated_inputs, known_readers, contract_version, consumer_impact, declared_columns, supported_input_versions,
    available_dependencies,
)


def global_governance(domain: str):
    """The global policies alone, with no load-time verdict: for products built outside a location."""
    return Governance(combine(GLOBAL_POLICIES, (), domain), PolicyReport())
