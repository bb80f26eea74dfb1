// Stations near me: ask the browser for the rider's position and reload the
// list with it (?lat=&lng=). Without this script, or when the rider says
// no, the list shows every station by name.
(function () {
  "use strict";
  var btn = document.getElementById("stations-locate");
  var status = document.getElementById("stations-geo-status");
  if (!btn || !navigator.geolocation) {
    return;
  }
  btn.hidden = false;
  function locate() {
    if (status) { status.textContent = btn.getAttribute("data-msg-locating"); }
    navigator.geolocation.getCurrentPosition(function (pos) {
      var lat = pos.coords.latitude.toFixed(5), lng = pos.coords.longitude.toFixed(5);
      location.href = btn.getAttribute("data-href") + "?lat=" + lat + "&lng=" + lng;
    }, function () {
      if (status) { status.textContent = btn.getAttribute("data-msg-denied"); }
    }, { maximumAge: 300000, timeout: 15000 });
  }
  btn.addEventListener("click", locate);
  // A rider who already allowed the position gets the nearest stations at
  // once; nobody is asked without pressing the button.
  var params = new URLSearchParams(location.search);
  if (!params.has("lat") && navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "geolocation" }).then(function (p) {
      if (p.state === "granted") { locate(); }
    }).catch(function () {});
  }
})();
