"""Data contracts (ODCS v3): what a port promises its consumers."""

from mesh_platform.model.contracts.model import Column, Contract, ServiceLevel, load_contract, parse_contract

__all__ = ["Column", "Contract", "ServiceLevel", "load_contract", "parse_contract"]
