// Live tables (the fleet, the alerts) update themselves: central sends a table's rows as
// server-sent events whenever they change, and they replace the table's body. Nothing else
// runs in the console.
(function () {
  "use strict";
  var rows = document.querySelector("tbody[data-events]");
  var live = document.getElementById("live");
  if (!rows || !live || !window.EventSource) { return; }
  var source = new EventSource(rows.getAttribute("data-events"));
  source.addEventListener("rows", function (event) {
    rows.innerHTML = event.data;
    live.setAttribute("data-updated", String(Date.now()));
  });
  source.onopen = function () { live.classList.remove("lost"); };
  source.onerror = function () { live.classList.add("lost"); };
})();
