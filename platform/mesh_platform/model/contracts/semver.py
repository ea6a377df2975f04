"""Contract versions are semantic versions: MAJOR.MINOR.PATCH, nothing more.

Consumers pin a contract's major version, so the platform must read versions exactly. Pre-release
and build suffixes are refused: a port publishes one released contract at a time. Kept apart from
`versions.py` so that `model.py` can validate versions without an import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
LEVELS = ("patch", "minor", "major")  # from the least to the most disruptive bump


@dataclass(frozen=True, order=True)
class Semver:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: object) -> Semver:
        """`"1.2.0"` -> Semver(1, 2, 0); ValueError for anything else ("1.0", "v1.0.0", "01.0.0")."""
        match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"expected a semantic version MAJOR.MINOR.PATCH (e.g. 1.2.0), found {str(text)!r}")
        return cls(*(int(part) for part in match.groups()))

    def bump(self, level: str) -> Semver:
        """The smallest version after this one that is a `level` bump (1.4.2 + minor -> 1.5.0)."""
        if level == "major":
            return Semver(self.major + 1, 0, 0)
        if level == "minor":
            return Semver(self.major, self.minor + 1, 0)
        if level == "patch":
            return Semver(self.major, self.minor, self.patch + 1)
        raise ValueError(f"unknown bump level {level!r}; expected one of {', '.join(LEVELS)}")

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
