// posada booking widget: <script src="https://…/widget.js" data-posada-unit="SLUG" async></script>
// Puts the unit's availability calendar and a "Reservar" button (an iframe) where the script is.
(function () {
  "use strict";
  var scripts = document.querySelectorAll("script[data-posada-unit]");
  for (var i = 0; i < scripts.length; i++) {
    var s = scripts[i];
    if (s.getAttribute("data-posada-done")) continue;
    s.setAttribute("data-posada-done", "1");
    var base = s.src.replace(/\/widget\.js(\?.*)?$/, "");
    var slug = encodeURIComponent(s.getAttribute("data-posada-unit"));
    var f = document.createElement("iframe");
    f.src = base + "/reservar/" + slug + "/widget";
    f.title = "Disponibilidad y reservas";
    f.loading = "lazy";
    f.style.cssText = "width:100%;max-width:420px;height:540px;border:0";
    s.parentNode.insertBefore(f, s.nextSibling);
  }
})();
