/* WGS-84 ⇄ GCJ-02, for street maps drawn in GCJ-02 (Amap, Tencent): a
   port of the Go package coords (WGS84ToGCJ02, GCJ02ToWGS84), the published
   "eviltransform" formulas with an iterated inverse. Nuanxin stores WGS-84;
   the report form draws its pin at the GCJ-02 position on such tiles and
   turns a dragged pin back to WGS-84. web/browser_form_test.go holds it to
   the Go functions within 1e-7°. All functions take and return [lat, lng]
   in degrees. */
(function () {
  'use strict';

  var A = 6378245.0;                  // Krasovsky 1940
  var EE = 0.00669342162296594323;

  function inChina(lat, lng) {
    return lng >= 72.004 && lng <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }

  function transform(x, y) {
    var xy = x * y;
    var absX = Math.sqrt(Math.abs(x));
    var xPi = x * Math.PI, yPi = y * Math.PI;
    var d = 20.0 * Math.sin(6.0 * xPi) + 20.0 * Math.sin(2.0 * xPi);
    var lat = d, lng = d;
    lat += 20.0 * Math.sin(yPi) + 40.0 * Math.sin(yPi / 3.0);
    lng += 20.0 * Math.sin(xPi) + 40.0 * Math.sin(xPi / 3.0);
    lat += 160.0 * Math.sin(yPi / 12.0) + 320 * Math.sin(yPi / 30.0);
    lng += 150.0 * Math.sin(xPi / 12.0) + 300.0 * Math.sin(xPi / 30.0);
    lat *= 2.0 / 3.0;
    lng *= 2.0 / 3.0;
    lat += -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * absX;
    lng += 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * absX;
    return [lat, lng];
  }

  function delta(lat, lng) {
    var t = transform(lng - 105.0, lat - 35.0);
    var radLat = lat / 180.0 * Math.PI;
    var magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sqrtMagic = Math.sqrt(magic);
    var dLat = (t[0] * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
    var dLng = (t[1] * 180.0) / (A / sqrtMagic * Math.cos(radLat) * Math.PI);
    return [dLat, dLng];
  }

  function wgs84ToGcj02(lat, lng) {
    if (!inChina(lat, lng)) { return [lat, lng]; }
    var d = delta(lat, lng);
    return [lat + d[0], lng + d[1]];
  }

  // gcj02ToWgs84 iterates w ← w − (forward(w) − target) until the round
  // trip agrees to 1e-10°, as the Go inverse does.
  function gcj02ToWgs84(lat, lng) {
    if (!inChina(lat, lng)) { return [lat, lng]; }
    var wLat = lat, wLng = lng;
    for (var i = 0; i < 20; i++) {
      var f = wgs84ToGcj02(wLat, wLng);
      var dLat = f[0] - lat, dLng = f[1] - lng;
      wLat -= dLat;
      wLng -= dLng;
      if (Math.abs(dLat) < 1e-10 && Math.abs(dLng) < 1e-10) { break; }
    }
    return [wLat, wLng];
  }

  window.nxCoords = { inChina: inChina, wgs84ToGcj02: wgs84ToGcj02, gcj02ToWgs84: gcj02ToWgs84 };
})();
