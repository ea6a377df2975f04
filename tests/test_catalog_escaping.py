"""The catalog site prints free text from descriptors and contracts as text, never as markup or
as template code: a hostile description, owner contact or column description is inert on every page."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import yaml

from tests.conftest import ROOT, run_mesh

# Markup that would run (a script, an event handler, an attribute broken out of its quotes) and
# template syntax that would be evaluated if the text were ever rendered as a template.
HOSTILE = """<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7*7 }} {% if 1 %}y{% endif %} $rows ' & """
# An owner contact passes the e-mail check (something@host.tld) yet carries an attribute break-out.
HOSTILE_CONTACT = '"><script>alert(2)</script>@evil.example'


class Page(HTMLParser):
    """What a browser would make of a page: its elements, attributes and visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _yaml_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_hostile_free_text_is_inert_on_every_page(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for part in ("workspace.yaml", "shared_assets", "domains"):  # the catalog reads descriptors only
        (shutil.copy if part.endswith(".yaml") else shutil.copytree)(ROOT / part, project / part)
    fleet = project / "domains" / "fleet"
    descriptor = fleet / "products" / "aircraft.yaml"
    descriptor.write_text(re.sub(r"(?m)^description:.*(\n  .*)*", f"description: {_yaml_quoted(HOSTILE)}", descriptor.read_text(), count=1))
    domain = fleet / "domain.yaml"
    domain.write_text(domain.read_text().replace("contact: fleet@mesh.example", f"contact: {_yaml_quoted(HOSTILE_CONTACT)}"))
    contract = fleet / "contracts" / "aircraft.odcs.yaml"
    odcs = yaml.safe_load(contract.read_text())
    odcs["description"]["purpose"] = HOSTILE
    for column in odcs["schema"][0]["properties"]:
        column["description"] = HOSTILE
    contract.write_text(yaml.safe_dump(odcs, sort_keys=False))

    site = tmp_path / "site"
    result = run_mesh(["catalog", "--html", str(site)], tmp_path / "home", cwd=project)
    assert result.returncode == 0, result.stderr

    pages = {page.name: Page(page.read_text()) for page in site.iterdir()}
    assert len(pages) > 10
    for name, page in pages.items():
        # Only the index's own search script; no element, handler or URL came from the text.
        assert page.tags.count("script") == (1 if name == "index.html" else 0), name
        assert "img" not in page.tags, name
        assert not [a for a, _ in page.attributes if a.startswith("on")], name
    aircraft, index = pages["fleet.aircraft.html"], pages["index.html"]
    shown = "".join(aircraft.text)
    # The text reads exactly as written, template syntax included (nothing evaluated it).
    columns = len(odcs["schema"][0]["properties"])
    one_line = " ".join(HOSTILE.split())  # free text is shown on one line
    assert shown.count(one_line) == 2 + columns, shown  # description, purpose, every column's description
    assert "".join(index.text).count(one_line) == 1
    # The contact stays inside its link's attribute and text; in the index, inside the search words.
    assert ("href", f"mailto:{HOSTILE_CONTACT}") in aircraft.attributes
    assert shown.count(HOSTILE_CONTACT) == 2  # the owner card and the access table
    aircraft_row = next(v for a, v in index.attributes if a == "data-search" and v.startswith("fleet.aircraft "))
    assert HOSTILE_CONTACT.lower() in aircraft_row and one_line.lower() in aircraft_row
