"""The suite's own schedule (tests/conftest.py): the files it hands out first must exist, or a
renamed slow file silently drops back to the end of the queue and the run outlasts its budget."""

from __future__ import annotations

from tests.conftest import ROOT, SLOWEST_FILES


def test_every_file_handed_out_first_exists_once():
    missing = [name for name in SLOWEST_FILES if not (ROOT / name).is_file()]
    assert not missing, f"tests/conftest.py SLOWEST_FILES names files that do not exist: {missing}"
    assert len(set(SLOWEST_FILES)) == len(SLOWEST_FILES)
