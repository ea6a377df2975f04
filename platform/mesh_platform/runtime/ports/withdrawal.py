"""Withdrawn majors: a published contract major its owner took back.

A withdrawal is a state of one published major (`<product>/v<M>`), not of a contract: the owner
writes a marker into the major's port and its masked projection (`_mesh_withdrawn.json`; Delta
ignores files starting with "_"), so every reader, whichever port it may open, finds it with its
own keys. Reads of a withdrawn major are refused (runtime/reading.py calls `refuse_withdrawn`),
and the contract-version policy no longer compares with it: the next publish goes back to an
earlier major or moves to a higher one (docs/governance.md). Independent of the ODCS `status`
of a contract (draft ... retired), which says what a contract is, not what became of a port.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mesh_platform.model.access import AccessDenied
from mesh_platform.model.contracts.model import Contract
from mesh_platform.runtime.ports import delta_history
from mesh_platform.runtime.ports.history import options
from mesh_platform.runtime.ports.store import PortStore

WITHDRAWN_MARKER = "withdrawn"
MAX_REASON = 300  # characters: one line a consumer reads in an error


class WithdrawnPortError(AccessDenied):
    """A consumer reads a major its owner withdrew."""


@dataclass(frozen=True)
class Withdrawal:
    major: int
    reason: str
    by: str
    at: str  # ISO timestamp, UTC


def withdrawal_of(store: PortStore, domain: str, product: str, major: int, masked: bool = False) -> Withdrawal | None:
    """The withdrawal of `major`, as its port (`masked`: its masked projection) records it."""
    data = delta_history.read_marker(store.uri(domain, product, major, masked), WITHDRAWN_MARKER, options(store))
    if data is None:
        return None
    return Withdrawal(major, str(data.get("reason", "")), str(data.get("by", "")), str(data.get("at", "")))


def withdrawn_majors(store: PortStore, domain: str, product: str, masked: bool = False) -> dict[int, Withdrawal]:
    found = {}
    for major in store.published_majors(domain, product, masked):
        withdrawal = withdrawal_of(store, domain, product, major, masked)
        if withdrawal is not None:
            found[major] = withdrawal
    return found


def latest_serving(store: PortStore, domain: str, product: str) -> tuple[int, Contract] | None:
    """The highest published major that is not withdrawn, and its stored contract: what the
    next publish is compared with (`latest_published`, withdrawn majors skipped)."""
    withdrawn = withdrawn_majors(store, domain, product)
    for major in reversed(store.published_majors(domain, product)):
        if major in withdrawn:
            continue
        contract = store.stored_contract(store.uri(domain, product, major))
        if contract is not None:
            return major, contract
    return None


def withdraw(store: PortStore, domain: str, product: str, major: int, reason: str, *, acting: str, by: str) -> Withdrawal:
    """Mark published `major` withdrawn, in its port and its masked projection (if it has one).
    `acting`: the domain doing it (only the owner may; on an object store only its keys can)."""
    if acting != domain:
        raise AccessDenied(f"domain {acting!r} may not withdraw {domain}.{product}@v{major}: only its owner, domain {domain!r}, may")
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON:
        raise ValueError(f"a withdrawal needs a reason consumers can act on, in at most {MAX_REASON} characters (found {len(reason)})")
    if major not in store.published_majors(domain, product):
        published = ", ".join(f"v{m}" for m in store.published_majors(domain, product)) or "none"
        raise ValueError(f"{domain}.{product}@v{major} was never published (published majors: {published})")
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    marker = {"major": major, "reason": reason, "by": by, "at": at}
    for masked in (False, True):
        if major in store.published_majors(domain, product, masked):
            delta_history.write_marker(store.uri(domain, product, major, masked), WITHDRAWN_MARKER, marker, options(store))
    return Withdrawal(major, reason, by, at)


def refuse_withdrawn(store: PortStore, product_id: str, domain: str, product: str, major: int, masked: bool, consumer: str) -> None:
    """The read-time refusal of a withdrawn major, in one line naming the reason and the major
    to move to (the highest published one not withdrawn). Called by `plan_read`."""
    withdrawal = withdrawal_of(store, domain, product, major, masked)
    if withdrawal is None and masked and "://" not in store.root:
        # A masked read of a port published before projections reads the raw port (on local disk only).
        withdrawal = withdrawal_of(store, domain, product, major)
    if withdrawal is None:
        return
    withdrawn = withdrawn_majors(store, domain, product, masked)
    others = [m for m in store.published_majors(domain, product, masked) if m not in withdrawn]
    move = f"move to v{max(others)}" if others else "no other major is published yet"
    raise WithdrawnPortError(f"{consumer} reads {product_id}@v{major}, withdrawn by its owner on {withdrawal.at[:10]}: "
                             f"{withdrawal.reason}; {move}")
