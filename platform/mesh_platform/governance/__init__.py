"""Federated computational governance: policies as code, access control and masking."""
