"""Usage: who read which product, at which major and Delta version, when, and how.

Every governed read records itself once (a Python input per step, a dbt project's source once per
dbt process, a `mesh sql` query per product it names): one tiny JSON object, written by the
reader, as the reader's own storage identity, into the product's own folder:

    <owner>/<product>/usage/<reader domain>/<UTC time>-<way>-<random>.json

A reader may write only its own subfolder there (model/storage_grants.py `usage_prefix`), and the
owner lists and reads the whole folder, which lies in its own domain's: on an object store the
store enforces both; on local disk the folder is beside the ports. A record names products,
domains and how the reader was bound, never a query's text (its literals may be personal data)
nor an operator's login. Recording never fails a read: a record that cannot be written is logged
in one line and the read goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from mesh_platform.model.descriptor import Product
from mesh_platform.model.layout import USAGE_FOLDER
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.names import parse_product_id
from mesh_platform.runtime.ports.objects import list_objects, read_object, write_object
from mesh_platform.runtime.ports.store import port_store

LOG = logging.getLogger("mesh.usage")
PUBLIC_READER = "_public"  # the folder of a session without a domain (no domain can be named so)
VIA_PYTHON, VIA_DBT, VIA_SQL = "python input", "dbt source", "mesh sql"
_STAMP = "%Y%m%dT%H%M%S%fZ"  # record names sort by time
# The way of reading is in the name too, so the newest read of each reader *and way* is found from
# the listing alone: an operator's many `mesh sql` queries never hide the dbt project reading it.
_WAY = {VIA_PYTHON: "python", VIA_DBT: "dbt", VIA_SQL: "sql"}
CLOCK_SKEW = dt.timedelta(minutes=5)  # how far ahead of the reading clock a writer's clock may be


@dataclass(frozen=True)
class UsageRecord:
    product: str  # domain.product read
    major: int
    version: int | None  # the Delta version read (None: not known)
    reader: str  # the reader's domain (PUBLIC_READER: a session without one)
    how: str  # how the platform bound the reader (model/identity.py): step, dbt, operator, public
    consumer: str  # the reading products (`domain.product, ...`) or "mesh sql"
    via: str  # VIA_PYTHON, VIA_DBT or VIA_SQL
    at: dt.datetime  # UTC

    def to_dict(self) -> dict:
        return asdict(self) | {"at": self.at.isoformat()}


def usage_folder(domain: str, product: str, reader: str | None = None) -> str:
    """The product's usage folder (or one reader's subfolder), relative to the storage root."""
    return f"{domain}/{product}/{USAGE_FOLDER}" + (f"/{reader}" if reader else "")


def declared_consumers(mesh: Mesh, reader_domain: str | None, product: Product) -> str:
    """The products of `reader_domain` that declare `product` as an input (what a read is for)."""
    found = [p.id for p in mesh.consumers_of(product) if p.domain == reader_domain]
    return ", ".join(sorted(found)) or f"domain {reader_domain}"


def record_read(plan, via: str, consumer: str, version: int | None = None, now: dt.datetime | None = None) -> UsageRecord | None:
    """Record one governed read of `plan` (runtime/reading.py PortRead) as its reader; None when
    the record could not be written (logged: a read never fails for its record)."""
    reader = plan.reader.domain or PUBLIC_READER
    record = UsageRecord(plan.product.id, plan.major, version if version is not None else plan.version, reader,
                         plan.reader.how, consumer, via, now or dt.datetime.now(dt.timezone.utc))
    name = f"{record.at.astimezone(dt.timezone.utc).strftime(_STAMP)}-{_WAY.get(via, 'other')}-{uuid.uuid4().hex[:8]}.json"
    key = f"{usage_folder(plan.product.domain, plan.product.name, reader)}/{name}"
    try:
        write_object(plan.store, key, json.dumps(record.to_dict(), sort_keys=True).encode())
    except Exception as exc:  # noqa: BLE001 - recording is best effort, whatever the store says
        LOG.warning("usage of %s by %s not recorded: %s", plan.product.id, reader, " ".join(str(exc).split())[:300])
        return None
    return record


def _parse(data: bytes) -> UsageRecord | None:
    try:
        raw = json.loads(data)
        raw["at"] = dt.datetime.fromisoformat(raw["at"])
        return UsageRecord(**raw)
    except (ValueError, TypeError, KeyError):
        return None  # not a record this platform wrote: skipped, never trusted


def _way(key: str) -> str:
    """The way of reading a record's name says (empty for a name without one)."""
    parts = key.rsplit("/", 1)[-1].split("-")
    return parts[1] if len(parts) == 3 else ""


def _stamp(key: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(key.rsplit("/", 1)[-1].split("-", 1)[0], _STAMP).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def recent_reads(
    root_or_mesh: Path | str | Mesh, product: str, since: dt.datetime | None = None, limit: int = 20,
    acting: str | None = None, now: dt.datetime | None = None,
) -> list[UsageRecord]:
    """The last `limit` recorded reads of `product` (`domain.product`), newest first, since
    `since` when given; read as `acting` (default: the platform's identity; the owner domain's
    own identity may read them too).

    A record's name is chosen by its writer, so it is not trusted for ordering on its own: a name
    stamped later than now (beyond CLOCK_SKEW) or not matching the record's `at` is skipped, and
    the newest record of every reader's subfolder is taken before any other, so one reader writing
    many (or far-future) records cannot push the others out of the `limit`."""
    root = root_or_mesh.root if isinstance(root_or_mesh, Mesh) else Path(root_or_mesh)
    domain, name = parse_product_id(product)
    store = port_store(root, acting=acting)
    latest = (now or dt.datetime.now(dt.timezone.utc)) + CLOCK_SKEW
    stamped = [(when, key) for key in list_objects(store, usage_folder(domain, name)) if (when := _stamp(key)) is not None]
    stamped = [(when, key) for when, key in stamped if when <= latest and (since is None or when >= since)]
    by_reader: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = {}  # (reader, way) -> its records, newest first
    for when, key in sorted(stamped, reverse=True):
        by_reader.setdefault((key.split("/")[-2], _way(key)), []).append((when, key))

    def valid(when: dt.datetime, key: str) -> UsageRecord | None:
        data = read_object(store, key)
        parsed = _parse(data) if data is not None else None
        # A record counts only where its reader could write it (its own subfolder, this product)
        # and when its name tells the time it holds.
        if parsed is None or parsed.product != product or parsed.reader != key.split("/")[-2]:
            return None
        if _way(key) and _WAY.get(parsed.via, "other") != _way(key):
            return None  # the name says another way of reading than the record
        at = parsed.at if parsed.at.tzinfo else parsed.at.replace(tzinfo=dt.timezone.utc)
        return parsed if at.astimezone(dt.timezone.utc) == when else None

    records: dict[str, UsageRecord] = {}
    # First the newest valid record of each reader and way (newest first), then the rest.
    for candidates in sorted(by_reader.values(), reverse=True):
        for when, key in candidates:
            if len(records) >= limit:
                break
            if (record := valid(when, key)) is not None:
                records[key] = record
                break
    rest = sorted(((when, key) for candidates in by_reader.values() for when, key in candidates if key not in records), reverse=True)
    for when, key in rest:
        if len(records) >= limit:
            break
        if (record := valid(when, key)) is not None:
            records[key] = record
    return sorted(records.values(), key=lambda r: r.at, reverse=True)


def last_reads(records: list[UsageRecord]) -> list[UsageRecord]:
    """The newest record per (reader, consumer, via): who reads the product, and when they last did."""
    newest: dict[tuple[str, str, str], UsageRecord] = {}
    for record in sorted(records, key=lambda r: r.at):
        newest[(record.reader, record.consumer, record.via)] = record
    return sorted(newest.values(), key=lambda r: r.at, reverse=True)
