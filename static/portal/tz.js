/* Loopwise portal: detect the browser's time zone once and submit it, when the candidate has not chosen one.
   Nothing else runs here; the pages work without it (the zone can be chosen from the list). */
(function () {
  "use strict";
  var form = document.getElementById("tz-form");
  if (!form || form.getAttribute("data-remembered") === "true") return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  var select = form.elements.namedItem("zone");
  if (!zone || !select || select.value === zone) return;
  var known = false;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { known = true; break; }
  }
  if (!known) return;
  try {
    if (window.sessionStorage.getItem("loopwise-tz-sent") === zone) return;
    window.sessionStorage.setItem("loopwise-tz-sent", zone);
  } catch (e) { /* storage refused: the server remembers the zone, so this runs once anyway */ }
  select.value = zone;
  form.submit();
}());
