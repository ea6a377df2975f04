"""After the files are written: the new products pass the mesh's global error policies, or the
command fails and everything is undone."""

from __future__ import annotations

from mesh_platform.cli.scaffold.plan import Plan, ScaffoldError
from mesh_platform.model.descriptor import Product
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import PolicyContext, combine, evaluate
from mesh_platform.runtime.global_policies import GLOBAL_POLICIES


def policy_check(plan: Plan) -> None:
    """The new products pass every global error policy in the mesh as now written, or the
    command fails (and `apply` undoes it) naming the policy and why."""
    mesh = Mesh.load(plan.root)
    folder = mesh.folder_of(plan.domain)
    if folder in mesh.broken:
        raise ScaffoldError(f"internal error: the new files do not load: {' '.join(str(mesh.broken[folder]).split())}",
                            "please report it; everything was undone")
    domain = mesh.domains[plan.domain]
    new = [domain.products[p] for p in plan.products]
    report = evaluate(new, PolicyContext(mesh), combine(GLOBAL_POLICIES, (), plan.domain))
    problems = [f"[{f.policy}] {m}" for f in report.findings if f.severity == "error" and f.status != "pass" for m in f.messages]
    if problems:
        raise ScaffoldError(f"the new product would not pass the mesh's policies, so nothing was kept: {'; '.join(problems)}",
                            "change the inputs or names and run the command again")
    if plan.baseline is not None:
        broken = sorted(failing(mesh, [p for p in mesh.products() if p not in new]) - plan.baseline)
        if broken:
            raise ScaffoldError(
                "the new shared product would make other products fail the mesh's policies, so nothing was kept: "
                + "; ".join(f"{product} [{policy}] {message}" for product, policy, message in broken),
                "a shared product's key is a global identifier every domain must reference: name the product so its key does not clash",
            )


def failing(mesh: Mesh, products: list[Product]) -> set[tuple[str, str, str]]:
    """(product, policy, message) of every error policy `products` fail in `mesh`."""
    failing = set()
    for domain in {p.domain for p in products}:
        mine = [p for p in products if p.domain == domain]
        for f in evaluate(mine, PolicyContext(mesh), combine(GLOBAL_POLICIES, (), domain)).findings:
            if f.severity == "error" and f.status != "pass":
                failing |= {(f.product, f.policy, m) for m in f.messages}
    return failing
