"""Contract versioning: what changed between two versions of a port's contract, and which
semantic-version bump that change needs.

Consumers pin a contract's major version, so a change that can break a consumer must move the
major; an additive change moves the minor; anything else moves the patch. Classification:

- major (breaking): a column removed (a rename is a removal plus an addition); a type changed
  across families (string -> integer, date <-> timestamp) or narrowed (int64 -> int32, double ->
  float, decimal precision or scale lowered, coarser timestamp unit, timestamp time zone changed);
  a column made required, or no longer required; enum values removed (or the enum dropped); a
  classification removed, or changed from personal to non-personal; masking removed from, or
  changed on, a personal column; a primary key or unique constraint removed.
- minor (additive): a column added; a type widened within its family (int32 -> int64, float ->
  double, decimal precision raised without losing scale or integer digits, finer timestamp unit);
  enum values added, or an enum introduced; a classification added or changed otherwise; masking
  added; a quality rule added (by name, column or table level); a primary key or unique added; a
  partition column declared the month of a date (`derivedFrom`: a blocking rule).
- patch: descriptions (contract, table, column), SLAs, the team, a quality rule removed or changed,
  and, as a catch-all, any other difference of the ODCS document except `version`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from mesh_platform.model.contracts.model import DERIVED_FROM, Column, Contract
from mesh_platform.model.contracts.semver import LEVELS, Semver
from mesh_platform.model.contracts.types import logical_type_of, sql_type_of
from mesh_platform.model.errors import MeshError

# Top-level ODCS custom property of a new major's contract: until when the previous major stays.
RETIREMENT_PROPERTY = "previousMajorReadableUntil"

# What a bump of each level is called in messages.
_KIND = {"major": "breaking changes", "minor": "additive changes", "patch": "changes"}
# Column fields compared one by one below; the catch-all only looks at the others.
_COLUMN_FIELDS = {"name", "logicalType", "physicalType", "required", "primaryKey", "unique", "enum", "classification", "quality", "description"}
_CONTRACT_FIELDS = {"description": "contract description", "slaProperties": "SLA", "slaDefaultElement": "SLA default element", "team": "team"}
_TIME_UNITS = ("s", "ms", "us", "ns")


@dataclass(frozen=True)
class Change:
    """One difference between two contract versions, with the bump it needs."""

    level: str  # "major", "minor" or "patch"
    subject: str  # a column name, or "contract" / "table"
    text: str  # one human line: "column carrier removed"


@dataclass(frozen=True)
class ContractDiff:
    old_version: str
    new_version: str
    changes: list[Change]

    @property
    def required(self) -> str | None:
        """The bump the changes need: the highest level among them (None without changes)."""
        return max((c.level for c in self.changes), key=LEVELS.index, default=None)

    @property
    def bumped(self) -> str | None:
        """How far the version moved: "major", "minor", "patch", None if equal, or "downgrade"."""
        old, new = Semver.parse(self.old_version), Semver.parse(self.new_version)
        if new < old:
            return "downgrade"
        if new == old:
            return None
        return "major" if new.major != old.major else "minor" if new.minor != old.minor else "patch"

    def problem(self) -> str | None:
        """One line saying why the new version is not acceptable, or None when it is."""
        bumped, required = self.bumped, self.required
        moved = f"contract version {self.old_version} -> {self.new_version}"
        if bumped == "downgrade":
            return f"{moved} goes down: a contract version only moves forward"
        if required is None or (bumped is not None and LEVELS.index(bumped) >= LEVELS.index(required)):
            return None
        needed = required_version(self.old_version, required)
        why = "; ".join(c.text for c in self.changes if c.level == required)
        if bumped is None:
            return f"contract version {self.old_version} is unchanged: changes need at least a {required} bump ({needed}): {why}"
        return f"{moved} is not enough: {_KIND[required]} need a {required} bump ({needed}): {why}"


def retirement_of(contract: Contract) -> dt.date | None:
    """The date a new major's contract declares for the previous major's retirement."""
    for prop in contract.odcs.customProperties or []:
        if prop.property == RETIREMENT_PROPERTY:
            value = prop.value
            try:
                return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            except ValueError:
                raise MeshError(f"{contract.path}: customProperties.{RETIREMENT_PROPERTY}: expected a date (YYYY-MM-DD), found {value!r}") from None
    return None


def release_problem(before: Contract, published_major: int, new: Contract) -> str | None:
    """Why `new` cannot follow `before` (the contract last published as major `published_major`),
    or None. The one verdict `mesh validate` (policy contract-version) and `mesh contract diff`
    both give, so they never disagree: the bump must fit the change, and a new major must say
    until when the old major stays readable (its consumers keep reading it until then)."""
    problem = diff_contracts(before, new).problem()
    if problem:
        return problem
    if new.major > published_major and retirement_of(new) is None:
        return (f"major {new.major} publishes beside v{published_major}: declare until when consumers can still read "
                f"v{published_major} (customProperties: [{{property: {RETIREMENT_PROPERTY}, value: YYYY-MM-DD}}])")
    return None


def withdrawal_problem(new: Contract, withdrawn: Mapping[int, str]) -> str | None:
    """Why `new` cannot be published given the withdrawn majors (major -> reason), or None. A
    withdrawn major's port takes no more publishes (its consumers are refused, its rows stay
    for the record): the next publish goes back to an earlier major, moving forward from the
    contract last published there, or to a major above every withdrawn one. Either way the
    version policy then compares with the highest published major that is not withdrawn."""
    if new.major not in withdrawn:
        return None
    return (f"contract version {new.version} publishes to v{new.major}, which its owner withdrew ({withdrawn[new.major]}): "
            f"publish a major above it ({max(withdrawn) + 1}.0.0) or go back to an earlier major")


def required_version(old_version: str, level: str) -> str:
    """The smallest version a `level` change allows after `old_version` (1.4.2 + major -> 2.0.0)."""
    return str(Semver.parse(old_version).bump(level))


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    """Every change from `old` to `new`, each classified by what it means to the port's consumers."""
    changes = _column_set_changes(old, new)
    for column in new.columns:
        if column.name in old.column_names:
            changes += _column_changes(old.column(column.name), column)
            changes += _derivation_changes(column.name, _derived_from(old, column.name), _derived_from(new, column.name))
            changes += _other_changes(column.name, f"column {column.name}", _property_dump(old, column.name), _property_dump(new, column.name), _COLUMN_FIELDS)
    common = [name for name in new.column_names if name in old.column_names]
    if common != [name for name in old.column_names if name in common]:
        changes.append(Change("patch", "table", "columns reordered"))
    changes += _quality_changes("table", "table", old.quality, new.quality)
    old_table, new_table = _dump(old.odcs.schema_[0]), _dump(new.odcs.schema_[0])
    changes += _other_changes("table", "table", old_table, new_table, {"properties", "quality"})
    changes += _other_changes("contract", "contract", _dump(old.odcs), _dump(new.odcs), {"version", "schema"})
    return ContractDiff(old.version, new.version, changes)


def _column_set_changes(old: Contract, new: Contract) -> list[Change]:
    """Removed and added columns; a removed and an added column of one type may be a rename."""
    removed = [c for c in old.columns if c.name not in new.column_names]
    added = [c for c in new.columns if c.name not in old.column_names]
    unpaired = list(added)
    changes = []
    for column in removed:
        twins = [c for c in unpaired if c.arrow_type == column.arrow_type]
        hint = ""
        if len(twins) == 1:
            unpaired.remove(twins[0])
            hint = f" (renamed to {twins[0].name}?)"
        changes.append(Change("major", column.name, f"column {column.name} removed{hint}"))
    changes += [Change("minor", c.name, f"column {c.name} added") for c in added]
    return changes


def _column_changes(old: Column, new: Column) -> list[Change]:
    name = new.name
    changes = []

    def change(level: str, text: str) -> None:
        changes.append(Change(level, name, text))

    type_level = _type_change(old.arrow_type, new.arrow_type)
    if type_level:
        verb = "widened" if type_level == "minor" else "narrowed" if logical_type_of(old.arrow_type) == logical_type_of(new.arrow_type) else "changed"
        change(type_level, f"type of {name} {verb} from {sql_type_of(old.arrow_type)} to {sql_type_of(new.arrow_type)}")
    elif (old.logical_type, old.physical_type) != (new.logical_type, new.physical_type):
        change("patch", f"type of {name} spelt differently ({new.logical_type}, {new.physical_type})")
    if old.required != new.required:
        change("major", f"column {name} made required" if new.required else f"column {name} no longer required")
    if old.enum or new.enum:
        gone = [v for v in old.enum if v not in new.enum]
        came = [v for v in new.enum if v not in old.enum]
        if not new.enum:
            change("major", f"enum removed from {name}")
        elif not old.enum:
            change("minor", f"enum introduced on {name}: {_values(new.enum)}")
        else:
            if gone:
                change("major", f"enum values removed from {name}: {_values(gone)}")
            if came:
                change("minor", f"enum values added to {name}: {_values(came)}")
    before, after = (old.classification or "").lower(), (new.classification or "").lower()
    if before != after:
        if not after:
            change("major", f"classification {old.classification} removed from {name}")
        elif old.is_personal and not new.is_personal:
            change("major", f"column {name} no longer personal: classification {old.classification} -> {new.classification}")
        elif not before:
            change("minor", f"classification {new.classification} added to {name}")
        else:
            change("minor", f"classification of {name} changed: {old.classification} -> {new.classification}")
    if new.is_personal and old.masking != new.masking:
        if old.masking and not new.masking:
            change("major", f"masking {old.masking} removed from personal column {name}")
        elif old.masking:
            change("major", f"masking of personal column {name} changed: {old.masking} -> {new.masking}")
        else:
            change("minor", f"masking {new.masking} added to personal column {name}")
    # a primary key implies unique: report the key alone when it moves
    for label, was, now in (("primary key", old.primary_key, new.primary_key), ("unique", old.unique, new.unique)):
        if was != now:
            change("major" if was else "minor", f"{label} {'removed from' if was else 'added to'} {name}")
            break
    if (old.description or "") != (new.description or ""):
        change("patch", f"description of {name} changed")
    return changes + _quality_changes(name, f"column {name}", old.quality, new.quality)


def _derived_from(contract: Contract, name: str):
    prop = next(p for p in contract.odcs.schema_[0].properties if p.name == name)
    return next((c.value for c in prop.customProperties or [] if c.property == DERIVED_FROM), None)


def _derivation_changes(name: str, old, new) -> list[Change]:
    """A partition column declared the month of a date is a blocking rule: a new promise (minor),
    like a quality rule; dropping or changing it is not breaking for readers (patch)."""
    if old == new:
        return []
    if old is None:
        return [Change("minor", name, f"{name} declared the month of {new} (rule {name}_derived_from_{new})")]
    if new is None:
        return [Change("patch", name, f"{name} no longer declared the month of {old}")]
    return [Change("patch", name, f"{name} now declared the month of {new}, not {old}")]


def _type_change(old: pa.DataType, new: pa.DataType) -> str | None:
    """"minor" when every old value still fits the new type unchanged, else "major"."""
    if old == new:
        return None
    if logical_type_of(old) != logical_type_of(new):
        return "major"
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        same_sign = pa.types.is_signed_integer(old) == pa.types.is_signed_integer(new)
        return "minor" if same_sign and new.bit_width > old.bit_width else "major"
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return "minor" if new.bit_width > old.bit_width else "major"
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        keeps_digits = new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale
        return "minor" if keeps_digits else "major"
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        finer = _TIME_UNITS.index(new.unit) > _TIME_UNITS.index(old.unit)
        return "minor" if old.tz == new.tz and finer else "major"
    if logical_type_of(old) in ("string", "date"):
        return "minor"  # string <-> large_string, date32 <-> date64: same values
    return "major"  # decimal <-> float and anything else: values may change


def _quality_changes(subject: str, where: str, old: tuple, new: tuple) -> list[Change]:
    """Quality rules are matched by name: an added rule is a new promise (minor); a removed or
    changed one is not breaking for readers, who never relied on a check being absent (patch)."""
    before, after = _rules(old), _rules(new)
    changes = [Change("minor", subject, f"quality rule {key} added to {where}") for key in after if key not in before]
    for key, rule in before.items():
        if key not in after:
            changes.append(Change("patch", subject, f"quality rule {key} removed from {where}"))
        elif after[key] != rule:
            changes.append(Change("patch", subject, f"quality rule {key} of {where} changed"))
    return changes


def _other_changes(subject: str, where: str, old: dict, new: dict, skip: set[str]) -> list[Change]:
    """The catch-all: one patch change per differing field that no rule above classifies."""
    keys = sorted(k for k in old.keys() | new.keys() if k not in skip and old.get(k) != new.get(k))
    names = _CONTRACT_FIELDS if subject == "contract" else {}
    return [Change("patch", subject, f"{names[k]} changed" if k in names else f"{k} of {where} changed") for k in keys]


def _rules(rules: tuple) -> dict[str, dict]:
    dumps = [_dump(rule) for rule in rules]
    return {d.get("name") or str(sorted(d.items())): d for d in dumps}


def _property_dump(contract: Contract, name: str) -> dict:
    prop = next(p for p in contract.odcs.schema_[0].properties if p.name == name)
    dump = _dump(prop)
    # masking and derivedFrom are classified above; other custom properties fall to the catch-all
    custom = [c for c in dump.pop("customProperties", []) if c.get("property") not in ("masking", DERIVED_FROM)]
    return dump | ({"customProperties": custom} if custom else {})


def _dump(model) -> dict:
    return model.model_dump(exclude_none=True, by_alias=True, mode="json")


def _values(values) -> str:
    return ", ".join(str(v) for v in values)
