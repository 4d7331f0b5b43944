// The export page's copy button: copies the read-only address next to it. Without this file
// the address can still be selected and copied by hand (the button stays hidden).
(function () {
  "use strict";
  var state = document.getElementById("copy-state");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      field.focus();
      field.select();
      var done = function () { if (state) state.textContent = "Copiada."; };
      var manual = function () {
        if (state) state.textContent = document.execCommand && document.execCommand("copy")
          ? "Copiada." : "Seleccionada: copiala con el menú del teléfono.";
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(done, manual);
      } else {
        manual();
      }
    });
  });
})();
