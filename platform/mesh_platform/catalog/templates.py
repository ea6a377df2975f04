"""The catalog site's page templates, style and script: inline, so a page works from file://
with no network (string.Template: `$name` is a slot, `$$` a literal dollar)."""

from __future__ import annotations

from string import Template

STYLE = """
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --accent:#2563eb; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
header { background: #111827; color: #fff; padding: 14px 28px; display: flex; align-items: baseline; gap: 18px; }
header a { color: #93c5fd; text-decoration: none; }
header h1 { font-size: 18px; margin: 0; }
header .sub { color: #9ca3af; font-size: 12px; }
main { padding: 20px 28px 40px; max-width: 1400px; }
h2 { font-size: 16px; margin: 26px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #374151; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr[hidden] { display: none; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e5e7eb; white-space: nowrap; }
.b-public { background: #dcfce7; } .b-internal { background: #fef3c7; } .b-restricted { background: #fee2e2; }
.b-fresh, .b-passed { background: #dcfce7; } .b-stale, .b-failed { background: #fee2e2; }
.b-warned, .b-no-sla { background: #fef3c7; } .b-never-published, .b-unknown, .b-not-evaluated { background: #e5e7eb; }
.b-pii, .b-personal, .b-sensitive { background: #fce7f3; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; vertical-align: middle; }
#search { width: 100%; max-width: 560px; padding: 9px 12px; font-size: 15px; border: 1px solid #d1d5db; border-radius: 8px; }
#count { color: var(--muted); margin: 8px 0 12px; }
.desc { color: #374151; max-width: 900px; }
.row-desc { color: var(--muted); font-size: 12.5px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; } .card .v { font-size: 15px; margin-top: 2px; }
.lineage-box { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; overflow-x: auto; }
svg.lineage text { font: 12px system-ui, sans-serif; } svg.lineage .node-name { font-weight: 600; }
svg.lineage .node-detail { fill: #4b5563; font-size: 11px; } svg.lineage .domain-label { font-size: 11px; font-weight: 600; }
svg.lineage a:hover rect { stroke-width: 2.5; }
h2.title { border: 0; margin-top: 0; } h2.title code { font-size: 22px; }
td.nowrap { white-space: nowrap; }
#access th { width: 240px; }
dl.about { display: grid; grid-template-columns: 110px 1fr; gap: 4px 12px; max-width: 1000px; margin: 0 0 14px; }
dl.about dt { color: var(--muted); font-size: 12px; text-transform: uppercase; padding-top: 2px; } dl.about dd { margin: 0; }
.problem { background: #fee2e2; border: 1px solid #fecaca; padding: 8px 12px; border-radius: 6px; }
"""

SCRIPT = """
(function () {
  var box = document.getElementById('search');
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.product'));
  var count = document.getElementById('count');
  function filter() {
    var terms = box.value.toLowerCase().split(/\\s+/).filter(function (t) { return t.length > 0; });
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute('data-search');
      var match = terms.every(function (t) { return text.indexOf(t) !== -1; });
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = shown + ' of ' + rows.length + ' products' + (terms.length ? ' match "' + box.value.trim() + '"' : '');
  }
  box.addEventListener('input', filter);
  if (location.hash.length > 1) { box.value = decodeURIComponent(location.hash.slice(1)); }
  filter();
})();
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header><h1><a href="index.html">Mesh catalog</a></h1><span class="sub">$subtitle</span></header>
<main>
$body
</main>
$script
</body>
</html>
""")

INDEX_BODY = Template("""
<input id="search" type="search" autofocus autocomplete="off"
       placeholder="Search products by name, domain, description, owner, tag or column…" aria-label="Search products">
<p id="count">$total products</p>
<table id="products">
<thead><tr><th>product</th><th>domain</th><th>kind</th><th>owner</th><th>access</th><th>version</th>
<th>last publish</th><th>rows</th><th>freshness</th><th>checks</th></tr></thead>
<tbody>
$rows
</tbody>
</table>
""")

INDEX_ROW = Template("""<tr class="product" data-product="$id" data-search="$search">
<td><a href="$href"><code>$id</code></a><div class="row-desc">$description</div></td>
<td class="nowrap"><span class="dot" style="background:$colour"></span>$domain</td><td class="nowrap">$kind</td><td>$owner</td>
<td>$access</td><td>$version</td><td class="nowrap">$last_publish</td><td class="num">$rows</td><td>$freshness</td><td>$checks</td>
</tr>""")

PRODUCT_BODY = Template("""
<h2 class="title"><code>$id</code> $access_badge</h2>
<p class="desc">$description</p>
$about
$problem
<div class="grid">
$cards
</div>
<h2>Lineage</h2>
<div class="lineage-box">$svg</div>
<p class="row-desc">Inputs: $inputs &nbsp;·&nbsp; Consumers: $consumers</p>
<h2>Schema</h2>
<table id="schema">
<thead><tr><th>column</th><th>type</th><th>required</th><th>unique</th><th>description</th><th>classification</th><th>masking</th><th>references</th></tr></thead>
<tbody>
$columns
</tbody>
</table>
<h2>Rules</h2>
<table id="rules">
<thead><tr><th>rule</th><th>description</th><th>severity</th><th>last result</th></tr></thead>
<tbody>
$rules
</tbody>
</table>
<h2>Service levels</h2>
<table id="slas">
<thead><tr><th>SLA</th><th>value</th><th>element</th><th>description</th></tr></thead>
<tbody>
$slas
</tbody>
</table>
<h2>Owners and access</h2>
<table id="access">
<tbody>
$access
</tbody>
</table>
""")
