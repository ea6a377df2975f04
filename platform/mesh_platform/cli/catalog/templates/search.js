(function () {
  var box = document.getElementById('search');
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.product'));
  var count = document.getElementById('count');
  function filter() {
    var terms = box.value.toLowerCase().split(/\s+/).filter(function (t) { return t.length > 0; });
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
