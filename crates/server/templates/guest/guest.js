// posada guest pages: small comforts only; every page works without this file.
(function () {
  "use strict";
  // The hold's countdown ("quedan 12 min"), updated every 15 s.
  var el = document.querySelector(".countdown[data-until]");
  if (el) {
    var until = Date.parse(el.getAttribute("data-until"));
    var tick = function () {
      var min = Math.max(0, Math.floor((until - Date.now()) / 60000));
      el.textContent = min > 0 ? "quedan " + min + " min" : "venció";
    };
    tick();
    setInterval(tick, 15000);
  }
  // Picking the arrival in the date field moves the departure's minimum after it.
  var ci = document.getElementById("check_in");
  var co = document.getElementById("check_out");
  if (ci && co) {
    ci.addEventListener("change", function () {
      if (!ci.value) return;
      var d = new Date(ci.value + "T12:00:00Z");
      d.setUTCDate(d.getUTCDate() + 1);
      var next = d.toISOString().slice(0, 10);
      co.min = next;
      if (!co.value || co.value <= ci.value) co.value = next;
    });
  }
})();
