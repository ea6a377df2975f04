"""A scaffolded dbt product's project-side facts: where its model goes, how it reads an input, and
the yml the platform generates for it (never written by the scaffold itself: the platform's own
generator, orchestration.dbt.generated, runs on the files just written)."""

from __future__ import annotations

from pathlib import Path

from mesh_platform.model.descriptor import Product, load_domain
from mesh_platform.model.mesh import DOMAINS_FOLDER, SHARED_DOMAIN, SHARED_FOLDER
from mesh_platform.orchestration.dbt.generated import generated_files, model_names, model_paths


def model_dir(dbt_dir: Path) -> Path:
    return model_paths(dbt_dir)[0]


def dbt_models(dbt_dir: Path) -> set[str]:
    return model_names(dbt_dir)


def relation(product: Product, reader: str, dbt_dir: Path) -> str:
    """How the model reads an input: `ref()` for a model of its own project, else the port."""
    if product.domain == reader and product.name in dbt_models(dbt_dir):
        return "{{ ref('%s') }}" % product.name
    return "{{ source('%s', '%s') }}" % (product.domain, product.name)


def generated_yml(root: Path, domain: str, dbt_dir: Path) -> dict[Path, str]:
    """The generated yml of the domain's dbt project, as its files on disk now say."""
    folder = root / SHARED_FOLDER if domain == SHARED_DOMAIN else root / DOMAINS_FOLDER / domain
    return {f.path: f.text for f in generated_files(load_domain(folder), dbt_dir, root)}
