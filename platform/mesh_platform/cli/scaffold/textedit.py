"""Careful edits of files people also edit by hand: their text, comments and layout are kept.

Each edit inserts lines where the file's own structure says they go, then reads the result back
and checks it means exactly what was intended; when the file has another shape, the edit returns
None and the caller says what to add by hand, rather than guess.
"""

from __future__ import annotations

import ast

import yaml


def _last_line(node: yaml.Node) -> int:
    """The 0-based line of the last character of `node`'s own content (not trailing comments)."""
    if isinstance(node, yaml.ScalarNode):
        end = node.end_mark
        # A block scalar (`>` or `|`) ends at the start of the line after its text.
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    if isinstance(node, yaml.SequenceNode):
        return _last_line(node.value[-1]) if node.value else node.end_mark.line
    if isinstance(node, yaml.MappingNode):
        return _last_line(node.value[-1][1]) if node.value else node.end_mark.line
    return node.end_mark.line


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def append_to_sequence(text: str, path: list[str | tuple[str, str]], item_lines: list[str], expected) -> str | None:
    """Append a block-style item to the sequence at `path` of the YAML document `text`.

    `path` steps are mapping keys, or `(key, value)` to pick the sequence item whose `key` is
    `value`. `item_lines` are the item's lines without indentation, the first starting with
    `- `; they are indented like the sequence's existing items. `expected(before)` returns what
    the document must parse to afterwards (from what it parsed to before); on any mismatch, or a
    flow-style or empty sequence, the result is None."""
    try:
        before = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    key_node = None
    for step in path:
        if isinstance(step, tuple):
            key, value = step
            if not isinstance(node, yaml.SequenceNode):
                return None
            node = next((item for item in node.value if (n := _child(item, key)) is not None and getattr(n, "value", None) == value), None)
            key_node = None
        else:
            key_node = next((k for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None) \
                if isinstance(node, yaml.MappingNode) else None
            node = _child(node, step)
        if node is None:
            return None
    empty = (isinstance(node, yaml.SequenceNode) and not node.value) or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))
    if empty and key_node is not None:
        # `key: []` or `key:` with nothing: the list is written out in block style under the key.
        indent = " " * (key_node.start_mark.column + 2)
        block = "".join(f"\n{indent}{line}" if i == 0 else f"\n{indent}{line}" for i, line in enumerate(item_lines))
        start, end = node.start_mark.index, node.end_mark.index
        head = text[:start].rstrip(" ")
        if not head.endswith(":"):
            return None
        result = head + block + (text[end:] if text[end:].startswith("\n") else "\n" + text[end:].lstrip(" "))
        return _verified(result, expected(before))
    if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
        return None
    lines = text.splitlines(keepends=True)
    first = node.value[0].start_mark
    prefix = lines[first.line][: first.column]
    if prefix.strip() != "-":
        return None  # items are not `- ` lines (e.g. `- - nested`): leave it to a person
    dash = prefix.index("-")
    item_indent = " " * dash
    body_indent = " " * first.column  # where an item's content starts, after `- `
    inserted = []
    for i, line in enumerate(item_lines):
        if i == 0:
            inserted.append(item_indent + "-" + " " * (first.column - dash - 1) + line[2:])
        else:
            inserted.append(body_indent + line[2:] if line.startswith("  ") else body_indent + line)
    at = _last_line(node.value[-1]) + 1
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    result = "".join(lines[:at] + [line + "\n" for line in inserted] + lines[at:])
    return _verified(result, expected(before))


def _verified(result: str, expected) -> str | None:
    try:
        after = yaml.safe_load(result)
    except yaml.YAMLError:
        return None
    return result if after == expected else None


# -- definitions.py ------------------------------------------------------------------------------

class Wiring:
    """Where a domain's definitions.py imports its products and lists them."""

    def __init__(self, text: str):
        self.text = text
        self.tree = ast.parse(text)
        calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and _called(n) == "domain_definitions"]
        self.call = calls[0] if len(calls) == 1 else None

    @property
    def products(self) -> ast.List | None:
        if self.call is None:
            return None
        for kw in self.call.keywords:
            if kw.arg == "products":
                return kw.value if isinstance(kw.value, ast.List) else None
        return None

    def has_products_keyword(self) -> bool:
        return self.call is not None and any(kw.arg == "products" for kw in self.call.keywords)


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset of an ast (1-based line, UTF-8 byte column) position."""
    line = lines[lineno - 1]
    return sum(len(l) for l in lines[: lineno - 1]) + len(line.encode()[:col].decode())


def wire_product(text: str, module: str, name: str) -> str | None:
    """definitions.py with `from <module> import <name>` added and `name` in `products=[...]` of
    its one `domain_definitions(...)` call (the keyword is added if missing); None when the file
    does not have that shape."""
    try:
        wiring = Wiring(text)
    except SyntaxError:
        return None
    call = wiring.call
    if call is None or (wiring.has_products_keyword() and wiring.products is None):
        return None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
        text = "".join(lines)
    # 1. the product in the list (done first: the import shifts lines below it)
    products = wiring.products
    if products is not None:
        close = _offset(lines, products.end_lineno, products.end_col_offset) - 1  # the `]`
        if text[close] != "]":
            return None
        if products.lineno == products.end_lineno or not products.elts:
            head = text[:close].rstrip()
            separator = "" if head.endswith("[") else (" " if head.endswith(",") else ", ")
            text = head + separator + name + text[close:]
        else:  # one item per line: a new line like the last one
            last = products.elts[-1]
            end = _offset(lines, last.end_lineno, last.end_col_offset)
            indent = lines[last.lineno - 1][: len(lines[last.lineno - 1]) - len(lines[last.lineno - 1].lstrip())]
            between = text[end:close]
            if between.lstrip().startswith(","):  # a trailing comma: the new item goes after it
                at = end + between.index(",") + 1
                text = text[:at] + "\n" + indent + name + "," + text[at:]
            else:
                text = text[:end] + ",\n" + indent + name + "," + text[end:]
    else:
        close = _offset(lines, call.end_lineno, call.end_col_offset) - 1  # the `)`
        if text[close] != ")" or call.lineno != call.end_lineno:
            return None
        head = text[:close].rstrip()
        separator = "" if head.endswith("(") else (" " if head.endswith(",") else ", ")
        text = head + separator + f"products=[{name}]" + text[close:]
    # 2. the import: after the last import of the domain's own modules, else before mesh_platform's
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    package = module.rsplit(".", 1)[0]
    own = [n for n in imports if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(package + ".")]
    statement = f"from {module} import {name}\n"
    if own:  # in module order among the domain's imports, as isort keeps them
        later = [n for n in own if (n.module or "") > module]
        at = later[0].lineno - 1 if later and all((n.module or "") <= module for n in own[: own.index(later[0])]) \
            else max(n.end_lineno for n in own)
    else:
        platform = [n for n in imports if isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "mesh_platform"]
        if platform:
            at = platform[0].lineno - 1
        elif imports:
            at = imports[-1].end_lineno
        else:
            return None
    text = "".join(lines[:at] + [statement] + lines[at:])
    return text if _wired(text, module, name) else None


def _wired(text: str, module: str, name: str) -> bool:
    """The edit means what it should: the import is there, and the name is in products=[...]."""
    try:
        wiring = Wiring(text)
        compile(text, "definitions.py", "exec")
    except SyntaxError:
        return False
    imported = any(
        isinstance(n, ast.ImportFrom) and n.module == module and any(a.name == name and a.asname is None for a in n.names)
        for n in wiring.tree.body
    )
    listed = wiring.products is not None and any(isinstance(e, ast.Name) and e.id == name for e in wiring.products.elts)
    return imported and listed
