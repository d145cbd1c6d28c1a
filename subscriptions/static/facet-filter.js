// Filter-as-you-type for the "all values" facet page. Without scripts the same box
// filters on the server when submitted; this only saves the round trip.
(function () {
  "use strict";
  var box = document.getElementById("facet-filter");
  var list = document.getElementById("facet-values");
  var shown = document.getElementById("facet-shown");
  if (!box || !list) { return; }
  var items = Array.prototype.slice.call(list.querySelectorAll("li[data-name]"));
  function apply() {
    var needle = box.value.trim().toLowerCase();
    var count = 0;
    items.forEach(function (item) {
      var hit = !needle || item.getAttribute("data-name").toLowerCase().indexOf(needle) !== -1;
      item.hidden = !hit;
      if (hit) { count += 1; }
    });
    if (shown) { shown.textContent = String(count); }
  }
  box.addEventListener("input", apply);
  apply();
}());
