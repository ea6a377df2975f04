"""The mini mesh of the lifecycle and usage tests: lab.readings (built on its own) at a contract
status, and desk.summary, another domain's product that declares it as an input."""

from __future__ import annotations

import pandas as pd

from tests.helpers.mini_mesh import column, contract

READINGS = pd.DataFrame({"station": ["JFK", "EWR"], "reading_value": [1.0, 3.0]})


def with_status(status: str, *custom: dict):
    """lab.readings (built on its own) at `status`; desk.summary declares it as an input."""
    def change(files):
        files["domains/lab"]["products/readings.yaml"]["inputs"] = []
        readings = files["domains/lab"]["contracts/readings.odcs.yaml"]
        readings["schema"][0]["properties"][0] = column("station", required=True)
        readings["status"] = status
        if custom:
            readings["customProperties"] = list(custom)
        files["domains/desk"] = {
            "domain.yaml": {"name": "desk", "kind": "consumer-aligned", "description": "The analysts' desk.", "owner": {"team": "desk", "contact": "desk@mesh.example"}},
            "products/summary.yaml": {"name": "summary", "description": "How many readings there are and their mean value.", "inputs": ["lab.readings"]},
            "contracts/summary.odcs.yaml": contract("desk", "summary", [column("readings", "integer", "BIGINT"), column("mean_reading", "number", "DOUBLE")]),
        }
    return change
