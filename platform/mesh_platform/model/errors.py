"""Errors a mesh user sees: each names the file, the field and what was expected."""

from __future__ import annotations

from pathlib import Path


class MeshError(Exception):
    """Base of every error the platform raises on purpose (the CLI prints it as one line)."""


class DescriptorError(MeshError):
    """A product, domain or contract file is not what the platform expects."""

    def __init__(self, path: str | Path, field: str | None, expected: str):
        self.path = str(path)
        self.field = field
        self.expected = expected
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {expected}")


class ContractError(DescriptorError):
    """An ODCS contract is malformed or disagrees with the data or the model."""


class UnknownProductError(MeshError):
    """A consumer names an input port that no domain publishes."""


class UnavailableProductError(UnknownProductError):
    """A consumer names a product that is declared, but whose domain or contract does not load:
    the consumer's own files are fine, so only what needs that product fails."""


class PublishError(MeshError):
    """A batch could not be published to its port; the port keeps its previous version."""
