// The class page: the grid redraws itself whenever the server announces a change
// (server-sent events), keeping keyboard focus where it was and announcing nothing
// (a screen reader hears the grid when it reads it, not at every redraw); a chosen
// class list file is read into the text box (the form then sends plain text).
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  if (grid) {
    var lab = grid.dataset.lab;
    var live = document.getElementById("live"), when = document.getElementById("live-time");
    var source = new EventSource("/web/class/" + encodeURIComponent(lab) + "/events");
    var pending = false;
    function redraw() {
      if (pending) return;
      pending = true;
      fetch("/web/class/" + encodeURIComponent(lab) + "/grid", {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var focused = document.activeElement;
          var keep = focused && grid.contains(focused) ? focused.id : null;
          var scroll = document.getElementById("grid-scroll");
          var left = scroll ? scroll.scrollLeft : 0;
          grid.innerHTML = html;
          var again = document.getElementById("grid-scroll");
          if (again) again.scrollLeft = left;
          if (keep && document.getElementById(keep)) {
            document.getElementById(keep).focus({preventScroll: true});
          }
          when.textContent = "(updated " + new Date().toLocaleTimeString() + ")";
        })
        .catch(function () {})
        .then(function () { pending = false; });
    }
    source.addEventListener("hello", function () { live.textContent = "live"; redraw(); });
    source.addEventListener("change", redraw);
    source.onerror = function () { live.textContent = "live: reconnecting…"; };
  }
  var file = document.getElementById("roster-file");
  if (file) {
    file.addEventListener("change", function () {
      var chosen = file.files[0];
      if (!chosen) return;
      var reader = new FileReader();
      reader.onload = function () {
        document.getElementById("roster-names").value = reader.result;
        document.getElementById("roster-filename").value = chosen.name;
      };
      reader.readAsText(chosen);
    });
  }
})();
