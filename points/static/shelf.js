// Rewards shelf and pickup pages: progressive enhancement only; every form
// works without this script.
(function () {
  "use strict";
  // "Nearest first": ask the browser for the position and reload the shelf
  // with it. Refused or unavailable: nothing changes.
  var near = document.getElementById("shelf-near");
  if (near && navigator.geolocation) {
    near.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lat = pos.coords.latitude.toFixed(5), lng = pos.coords.longitude.toFixed(5);
        location.href = near.getAttribute("data-href") + "?lat=" + lat + "&lng=" + lng;
      }, function () {}, { maximumAge: 300000, timeout: 10000 });
    });
  } else if (near) {
    near.hidden = true;
  }

  // Pickup: scan the rider's QR code with the camera where the browser has
  // BarcodeDetector; typing the code always works.
  var scan = document.getElementById("pickup-scan");
  var video = document.getElementById("pickup-video");
  var input = document.getElementById("pickup-code");
  var form = document.getElementById("pickup-form");
  if (!scan || !video || !input || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  var label = scan.textContent, stream = null, timer = null;
  scan.hidden = false;
  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true;
    scan.textContent = label;
  }
  scan.addEventListener("click", function () {
    if (stream) { stop(); return; }
    var detector;
    try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { scan.hidden = true; return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      scan.textContent = scan.getAttribute("data-stop");
      return video.play();
    }).then(function () {
      timer = setInterval(function () {
        detector.detect(video).then(function (codes) {
          if (codes.length > 0 && codes[0].rawValue) {
            input.value = codes[0].rawValue;
            stop();
            form.submit();
          }
        }).catch(function () {});
      }, 300);
    }).catch(function () { stop(); });
  });
})();
