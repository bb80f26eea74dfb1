/* The report form's manual position: a street map (Leaflet over the tiles
   the operator configured, NUANXIN_MAP_TILES) with a draggable pin, or,
   without tiles, the grid drawing, zoomable with buttons, pinch and
   ctrl+wheel, its labels kept at 14 px or more on screen.

   nxPickMap.create(onPick) returns a picker, or null when the page has no
   map: picker.show(lat, lng) puts the pin at a WGS-84 position (NaN hides
   it), picker.opened() is called when the map's section opens. onPick(lat,
   lng) receives the WGS-84 position the rider chose on the map. */
(function () {
  'use strict';

  var MIN_LABEL_PX = 14.5; // on screen; the pages promise 14 px text or more

  /* The street map */

  function escapeHTML(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function streetMap(el, onPick) {
    var d = el.dataset;
    // Positions are WGS-84 everywhere in Nuanxin; GCJ-02 tiles (Amap,
    // Tencent) draw a WGS-84 point hundreds of metres off, so the pin is
    // placed at the converted position and a moved pin converted back.
    var gcj = d.datum === 'gcj02';
    if (gcj && !window.nxCoords) { return null; }
    var toMap = function (la, ln) { return gcj ? window.nxCoords.wgs84ToGcj02(la, ln) : [la, ln]; };
    var fromMap = function (la, ln) { return gcj ? window.nxCoords.gcj02ToWgs84(la, ln) : [la, ln]; };
    var map = null;
    var pin = null;
    var want = null; // the WGS-84 position to show once the map exists

    function placePin(ll) {
      if (!pin) {
        var icon = L.icon({
          iconUrl: d.icon2x, shadowUrl: d.shadow,
          iconSize: [34, 56], iconAnchor: [17, 56], shadowSize: [56, 56], shadowAnchor: [17, 56]
        });
        pin = L.marker(ll, { draggable: true, autoPan: true, icon: icon, alt: '' }).addTo(map);
        pin.on('dragend', function () { picked(pin.getLatLng()); });
      } else {
        pin.setLatLng(ll);
      }
      // Where the pin is drawn, in the tiles' datum: what a person sees,
      // and what the browser test checks the conversion against.
      el.setAttribute('data-pin-lat', String(ll[0]));
      el.setAttribute('data-pin-lng', String(ll[1]));
    }

    function picked(ll) {
      var w = fromMap(ll.lat, ll.lng);
      onPick(w[0], w[1]);
    }

    function build() {
      map = L.map(el, { zoomControl: true, attributionControl: true, tap: true })
        .setView([parseFloat(d.lat), parseFloat(d.lng)], parseInt(d.zoom, 10) || 13);
      map.attributionControl.setPrefix('Leaflet');
      L.tileLayer(d.tiles, {
        subdomains: d.subdomains || 'abc', maxZoom: 18, minZoom: 3,
        attribution: d.attribution ? escapeHTML(d.attribution) : ''
      }).addTo(map);
      map.on('click', function (e) {
        placePin([e.latlng.lat, e.latlng.lng]);
        picked(e.latlng);
      });
      var zin = el.querySelector('.leaflet-control-zoom-in');
      var zout = el.querySelector('.leaflet-control-zoom-out');
      if (zin && d.msgZoomIn) { zin.title = d.msgZoomIn; zin.setAttribute('aria-label', d.msgZoomIn); }
      if (zout && d.msgZoomOut) { zout.title = d.msgZoomOut; zout.setAttribute('aria-label', d.msgZoomOut); }
      if (want) {
        // The phone's (or typed) position, at street level.
        var m = toMap(want[0], want[1]);
        map.setView(m, Math.max(map.getZoom(), 16));
        show(want[0], want[1]);
      } else {
        // A pin to drag from the start, where the map is centred; it
        // fills the position only once the rider moves it.
        var c = map.getCenter();
        placePin([c.lat, c.lng]);
      }
    }

    function show(la, ln) {
      if (isNaN(la) || isNaN(ln)) { want = null; return; }
      want = [la, ln];
      if (!map) { return; }
      var m = toMap(la, ln);
      placePin(m);
      if (!map.getBounds().contains(m)) {
        map.setView(m, Math.max(map.getZoom(), 16));
      }
    }

    return {
      show: show,
      opened: function () {
        if (!window.L) { return; }
        // Built when first opened: riders whose phone gives the position
        // never download a tile.
        if (!map) { build(); } else { map.invalidateSize(); }
      }
    };
  }

  /* The grid drawing */

  function gridMap(svg, onPick) {
    var marker = document.getElementById('pick-marker');
    var buttons = document.getElementById('pick-zoom');
    var d = svg.dataset;
    var base = svg.viewBox.baseVal;
    var vb0 = { x: base.x, y: base.y, w: base.width, h: base.height };
    var vb = { x: vb0.x, y: vb0.y, w: vb0.w, h: vb0.h };
    var labels = Array.prototype.slice.call(svg.querySelectorAll('text[data-font-size]'));

    function scale() {
      var m = svg.getScreenCTM();
      return m ? Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)) : 0;
    }

    // fit keeps every label at MIN_LABEL_PX or more on screen, and the
    // marker the same size on screen whatever the zoom.
    function fit() {
      var k = scale();
      if (!k) { return; }
      labels.forEach(function (t) {
        var fs = parseFloat(t.getAttribute('data-font-size')) || 12;
        t.setAttribute('font-size', Math.max(fs, MIN_LABEL_PX / k).toFixed(2));
      });
      if (marker) { marker.setAttribute('r', (9 / k).toFixed(2)); }
    }

    function apply() {
      svg.setAttribute('viewBox', [vb.x, vb.y, vb.w, vb.h].map(function (v) { return v.toFixed(2); }).join(' '));
      svg.classList.toggle('zoomed', vb.w < vb0.w - 1e-6);
      fit();
    }

    function clampPan() {
      vb.x = Math.min(Math.max(vb.x, vb0.x), vb0.x + vb0.w - vb.w);
      vb.y = Math.min(Math.max(vb.y, vb0.y), vb0.y + vb0.h - vb.h);
    }

    // zoomAt zooms by f keeping the drawing's point (cx, cy) where it is.
    function zoomAt(f, cx, cy) {
      var w = Math.min(vb0.w, Math.max(vb0.w / 12, vb.w / f));
      var k = w / vb.w;
      vb.x = cx - (cx - vb.x) * k;
      vb.y = cy - (cy - vb.y) * k;
      vb.w = w;
      vb.h = vb.h * k;
      clampPan();
      apply();
    }

    function toDrawing(clientX, clientY) {
      var ctm = svg.getScreenCTM();
      if (!ctm) { return null; }
      var pt = svg.createSVGPoint();
      pt.x = clientX;
      pt.y = clientY;
      return pt.matrixTransform(ctm.inverse());
    }

    if (buttons) {
      buttons.hidden = false;
      buttons.addEventListener('click', function (e) {
        var b = e.target.closest('button[data-zoom]');
        if (!b) { return; }
        var f = b.getAttribute('data-zoom') === 'in' ? 2 : 0.5;
        // Around the marker when there is one in view, else the middle.
        var cx = vb.x + vb.w / 2, cy = vb.y + vb.h / 2;
        if (marker && marker.getAttribute('visibility') === 'visible') {
          var mx = parseFloat(marker.getAttribute('cx')), my = parseFloat(marker.getAttribute('cy'));
          if (mx >= vb.x && mx <= vb.x + vb.w && my >= vb.y && my <= vb.y + vb.h) { cx = mx; cy = my; }
        }
        zoomAt(f, cx, cy);
      });
    }

    // One finger (or the mouse) pans a zoomed drawing; two pinch. A press
    // that moved is not a tap: it picks nothing.
    var down = {};
    var moved = false;
    var startX = 0, startY = 0;
    var pinch = 0;
    svg.addEventListener('pointerdown', function (e) {
      down[e.pointerId] = { x: e.clientX, y: e.clientY };
      if (Object.keys(down).length === 1) { moved = false; startX = e.clientX; startY = e.clientY; }
      pinch = 0;
    });
    svg.addEventListener('pointermove', function (e) {
      var p = down[e.pointerId];
      if (!p) { return; }
      var ids = Object.keys(down);
      var k = scale();
      if (!k) { return; }
      if (ids.length === 1) {
        if (Math.abs(e.clientX - startX) + Math.abs(e.clientY - startY) > 8) { moved = true; }
        if (moved && vb.w < vb0.w) {
          vb.x -= (e.clientX - p.x) / k;
          vb.y -= (e.clientY - p.y) / k;
          clampPan();
          apply();
        }
      } else if (ids.length === 2) {
        moved = true;
        var a = down[ids[0]], b = down[ids[1]];
        p.x = e.clientX;
        p.y = e.clientY;
        var dist = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch && dist) {
          var mid = toDrawing((a.x + b.x) / 2, (a.y + b.y) / 2);
          if (mid) { zoomAt(dist / pinch, mid.x, mid.y); }
        }
        pinch = dist;
        return;
      }
      p.x = e.clientX;
      p.y = e.clientY;
    });
    var up = function (e) { delete down[e.pointerId]; pinch = 0; };
    svg.addEventListener('pointerup', up);
    svg.addEventListener('pointercancel', up);
    svg.addEventListener('wheel', function (e) {
      // Only a pinch on a touchpad (ctrl+wheel): a plain wheel scrolls the page.
      if (!e.ctrlKey) { return; }
      e.preventDefault();
      var p = toDrawing(e.clientX, e.clientY);
      if (p) { zoomAt(Math.exp(-e.deltaY / 200), p.x, p.y); }
    }, { passive: false });

    svg.addEventListener('click', function (e) {
      if (moved) { moved = false; return; }
      var p = toDrawing(e.clientX, e.clientY);
      if (!p) { return; }
      var ln = +d.lon0 + (p.x - d.margin) / d.kx;
      var la = +d.lat0 - (p.y - d.margin) / d.ky;
      onPick(la, ln);
    });
    window.addEventListener('resize', fit);

    return {
      show: function (la, ln) {
        if (!marker) { return; }
        if (isNaN(la) || isNaN(ln)) { marker.setAttribute('visibility', 'hidden'); return; }
        var x = +d.margin + (ln - d.lon0) * d.kx;
        var y = +d.margin + (d.lat0 - la) * d.ky;
        marker.setAttribute('cx', x.toFixed(1));
        marker.setAttribute('cy', y.toFixed(1));
        marker.setAttribute('visibility', 'visible');
      },
      opened: fit
    };
  }

  window.nxPickMap = {
    create: function (onPick) {
      var street = document.getElementById('street-map');
      if (street) { return streetMap(street, onPick); }
      var svg = document.getElementById('pick-map');
      if (svg && svg.createSVGPoint && svg.viewBox && svg.viewBox.baseVal) { return gridMap(svg, onPick); }
      return null;
    }
  };
})();
