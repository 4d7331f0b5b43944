// The owner's pages work without this file; it adds live updates. A page whose <main> has
// data-live="calendar reservation …" listens to /dashboard/events (Server-Sent Events) and, after
// an event of one of those kinds, fetches itself again and swaps in the new <main> — unless the
// owner is typing in one of its fields, then it offers a button instead. After a lost stream
// (the browser reconnects by itself) it refreshes once, so nothing missed stays missing; the
// first connection also refreshes once, for what changed between the page's render and it.
(function () {
  "use strict";
  var main = document.getElementById("contenido");
  var status = document.getElementById("live-state");
  if (!main || !main.dataset.live || !window.EventSource) return;
  var kinds = main.dataset.live.split(/\s+/);
  var pending = null;
  var dirty = false;
  document.addEventListener("input", function (e) {
    if (main.contains(e.target)) dirty = true;
  });
  function say(text) { if (status) status.textContent = text; }
  function offer() {
    if (document.getElementById("live-offer")) return;
    var p = document.createElement("p");
    p.id = "live-offer";
    p.className = "notice";
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = "Hay novedades: actualizar";
    b.addEventListener("click", function () { dirty = false; refresh(); });
    p.appendChild(b);
    main.insertBefore(p, main.firstChild);
  }
  function refresh() {
    if (dirty) { offer(); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Posada-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("contenido");
        if (!fresh) return;
        main.innerHTML = fresh.innerHTML;
        main.dataset.updated = String(Date.now());
        document.dispatchEvent(new CustomEvent("posada:refreshed"));
      })
      .catch(function () { say("Sin conexión"); });
  }
  function later() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; refresh(); }, 250);
  }
  var source = new EventSource("/dashboard/events");
  var lost = true;
  source.addEventListener("open", function () {
    say("En vivo");
    if (lost) {
      lost = false;
      // Not while the owner is in one of the page's fields: the swap would take the focus.
      if (!(document.activeElement && main.contains(document.activeElement) && document.activeElement.matches("input, textarea, select"))) later();
    }
  });
  source.addEventListener("error", function () { lost = true; say("Reconectando…"); });
  kinds.concat(["resync"]).forEach(function (kind) {
    source.addEventListener(kind, later);
  });
})();
