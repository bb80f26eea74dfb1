/* The rider's "report a problem" form. Without this script the form posts
   to /report as it is. With it: photos are previewed and shrunk in the
   browser before upload (riders pay for data), the position comes from the
   phone, and the report goes to the API with one Idempotency-Key that is
   kept, with what is sent, in sessionStorage until the server answers, so a
   weak network or a reload never files it twice. What the rider has typed
   and the photos they chose are kept as a draft (localStorage and
   IndexedDB, per account) until the report is saved, so closing the tab
   loses nothing. Once saved, the form leaves the history: Back shows the
   report, never the form again with its button to send. */
(function () {
  'use strict';

  var form = document.getElementById('report-form');
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.Promise) {
    return;
  }
  var MAX_SIDE = 1600;          // longest side of an uploaded photo, px
  var QUALITY = 0.85;           // JPEG quality of a shrunk photo
  var KEEP_BYTES = 400 * 1024;  // a small enough JPEG goes as it is
  var SERVER_LIMIT = 10 << 20;  // the server's per-photo limit
  var PENDING = 'nx.report.pending';
  var DONE = 'nx.report.done';        // the report just saved, for Back
  var user = form.getAttribute('data-user') || 'anonymous';
  var DRAFT = 'nx.report.draft.' + user; // per account: two riders may share a phone
  var maxPhotos = parseInt(form.getAttribute('data-max-photos'), 10) || 3;

  var $ = function (id) { return document.getElementById(id); };
  var inputs = [$('photos'), $('gallery')].filter(Boolean);
  var previews = $('previews');
  var errorBox = $('report-error');
  var statusLine = $('send-status');
  var progress = $('upload-progress');
  var submitBtn = $('report-submit');
  var cancelBtn = $('send-cancel');
  var geoStatus = $('geo-status');
  var lat = $('lat');
  var lng = $('lng');
  var manual = $('manual');
  var desc = $('description');
  var counter = $('description-count');
  var address = $('address');
  var manualPick = $('manual-pick');
  var draftNote = $('draft-note');
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');

  // msg returns a message from the form's data-msg-* attributes, with
  // {name} placeholders filled in.
  function msg(name, args) {
    var s = form.getAttribute('data-msg-' + name) || '';
    if (args) {
      Object.keys(args).forEach(function (k) { s = s.split('{' + k + '}').join(String(args[k])); });
    }
    return s;
  }

  form.classList.add('js');

  /* Photos */

  var photos = []; // {blob, original, hasGPS, url, decoded}

  // showError puts text in the summary at the top (role="alert", read out
  // by screen readers); with a field, also next to that field, where it
  // goes away as soon as the field is fixed.
  function showError(text, field) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
    errorBox.removeAttribute('data-field');
    if (text && field) {
      errorBox.setAttribute('data-field', field);
      fieldError(field, text);
    }
    var at = field ? fieldBox(field) : errorBox;
    if (text && at) { at.scrollIntoView({ block: 'center', behavior: 'smooth' }); }
  }

  // The fields an error may be next to: its message, and the controls it
  // marks invalid.
  var fieldControls = {
    photos: ['photos', 'gallery'], category: ['category-field'], location: ['lat', 'lng'],
    lat: ['lat', 'lng'], description: ['description'], address: ['address']
  };

  function fieldBox(field) {
    return field === 'photos' ? $('photos-field') : field === 'category' ? $('category-field') : $(field + '-error');
  }

  function fieldError(field, text) {
    var box = $(field + '-error');
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
    (fieldControls[field] || []).forEach(function (id) {
      var el = $(id);
      if (!el) { return; }
      if (text) { el.setAttribute('aria-invalid', 'true'); } else { el.removeAttribute('aria-invalid'); }
    });
    if (field === 'photos') { $('photos-field').classList.toggle('invalid', !!text); }
  }

  // fixed clears the errors of fields that are now right, and the summary
  // when it was about one of them (or all are gone).
  function fixed() {
    var fields = Array.prototype.slice.call(arguments);
    fields.forEach(function (f) { fieldError(f, ''); });
    var about = errorBox.getAttribute('data-field');
    var left = Object.keys(fieldControls).some(function (f) { var b = $(f + '-error'); return b && !b.hidden; });
    if ((about && fields.indexOf(about) >= 0) || (errorBox.textContent === msg('fix-fields') && !left)) {
      errorBox.textContent = '';
      errorBox.hidden = true;
      errorBox.removeAttribute('data-field');
    }
  }

  function decode(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { resolve({ img: img, url: url }); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error('undecodable')); };
      img.src = url;
    });
  }

  // hasExifGPS reports whether a JPEG carries an EXIF GPS block: if the
  // phone gives no position, such a photo is sent as taken, because
  // shrinking it on a canvas would drop the GPS the server can use.
  function hasExifGPS(file) {
    if (!file.slice || !window.FileReader) { return Promise.resolve(false); }
    return new Promise(function (resolve) {
      var r = new FileReader();
      r.onload = function () {
        try { resolve(scanExif(new DataView(r.result))); } catch (e) { resolve(false); }
      };
      r.onerror = function () { resolve(false); };
      r.readAsArrayBuffer(file.slice(0, 128 * 1024));
    });
  }

  function scanExif(v) {
    if (v.byteLength < 4 || v.getUint16(0) !== 0xFFD8) { return false; }
    var off = 2;
    while (off + 4 <= v.byteLength) {
      var marker = v.getUint16(off);
      var size = v.getUint16(off + 2);
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return false; }
      if (marker === 0xFFE1 && v.getUint32(off + 4) === 0x45786966) { // "Exif"
        var tiff = off + 10;
        var little = v.getUint16(tiff) === 0x4949;
        var ifd = tiff + v.getUint32(tiff + 4, little);
        var n = v.getUint16(ifd, little);
        for (var i = 0; i < n; i++) {
          if (v.getUint16(ifd + 2 + i * 12, little) === 0x8825) { return true; }
        }
        return false;
      }
      off += 2 + size;
    }
    return false;
  }

  // prepare shrinks a photo to MAX_SIDE on a canvas, as JPEG. A photo the
  // browser cannot decode (HEIC on a desktop) goes as it is, and the server
  // says what is wrong with it.
  function prepare(file) {
    var gps = hasExifGPS(file);
    return decode(file).then(function (d) {
      var w = d.img.naturalWidth, h = d.img.naturalHeight;
      var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      var done = function (blob) { return gps.then(function (g) { return { blob: blob, original: file, hasGPS: g, url: d.url, decoded: true }; }); };
      if (scale === 1 && file.type === 'image/jpeg' && file.size <= KEEP_BYTES) {
        return done(file);
      }
      var c = document.createElement('canvas');
      c.width = Math.max(1, Math.round(w * scale));
      c.height = Math.max(1, Math.round(h * scale));
      var ctx = c.getContext('2d');
      ctx.fillStyle = '#fff'; // transparent PNG areas would turn black in a JPEG
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(d.img, 0, 0, c.width, c.height);
      return new Promise(function (resolve) {
        c.toBlob(function (b) { resolve(b && b.size < file.size * 1.2 ? b : file); }, 'image/jpeg', QUALITY);
      }).then(done);
    }, function () {
      return gps.then(function (g) { return { blob: file, original: file, hasGPS: g, url: '', decoded: false }; });
    });
  }

  function renderPreviews() {
    previews.textContent = '';
    photos.forEach(function (p, i) {
      var li = document.createElement('li');
      if (p.url) {
        var img = document.createElement('img');
        img.src = p.url;
        img.alt = '';
        li.appendChild(img);
      } else {
        var span = document.createElement('span');
        span.className = 'nopreview';
        span.textContent = msg('undecodable') + (p.original && p.original.name ? '\n' + p.original.name : '');
        li.appendChild(span);
      }
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'remove';
      b.textContent = msg('remove');
      b.setAttribute('data-index', String(i));
      li.appendChild(b);
      previews.appendChild(li);
    });
    form.classList.toggle('full', photos.length >= maxPhotos);
    if (photos.length) { fixed('photos'); }
  }

  previews.addEventListener('click', function (e) {
    var b = e.target.closest('button.remove');
    if (!b || sending) { return; }
    var p = photos.splice(parseInt(b.getAttribute('data-index'), 10), 1)[0];
    if (p && p.url) { URL.revokeObjectURL(p.url); }
    renderPreviews();
    savePhotos();
  });

  // The camera and the gallery feed one list.
  function added(input) {
    var files = Array.prototype.slice.call(input.files || []);
    input.value = ''; // so the same photo can be picked again after removing it
    if (!files.length) { return; }
    var room = maxPhotos - photos.length;
    if (files.length > room) {
      showError(msg('too-many', { n: maxPhotos }), 'photos');
      files = files.slice(0, Math.max(0, room));
    } else {
      fixed('photos');
    }
    statusLine.textContent = msg('preparing');
    Promise.all(files.map(prepare)).then(function (ps) {
      photos = photos.concat(ps).slice(0, maxPhotos);
      statusLine.textContent = '';
      renderPreviews();
      savePhotos();
    });
  }
  inputs.forEach(function (input) {
    input.addEventListener('change', function () { added(input); });
  });

  /* Description counter */

  function count() {
    var max = parseInt(counter.getAttribute('data-max'), 10);
    counter.textContent = Array.from(desc.value).length + ' / ' + max;
  }
  desc.addEventListener('input', count);
  count();

  /* Position: the phone's, else the photo's GPS, else picked by hand */

  var manualTouched = false;

  // The map to pick on: the street map with its pin, or the grid drawing.
  var picker = window.nxPickMap ? window.nxPickMap.create(function (la, ln) {
    manualTouched = true;
    setPosition(la, ln, true);
    geoStatus.textContent = msg('manual', { lat: lat.value, lng: lng.value });
    geoStatus.className = 'geo-status';
  }) : null;
  if (picker && manualPick) {
    manualPick.addEventListener('toggle', function () { if (manualPick.open) { picker.opened(); } });
    if (manualPick.open) { picker.opened(); }
  }

  function openManual() {
    if (manualPick && !manualPick.open) { manualPick.open = true; } // its toggle event tells the map
  }

  function setPosition(la, ln, byHand) {
    lat.value = la.toFixed(6);
    lng.value = ln.toFixed(6);
    manual.value = byHand ? 'true' : 'false';
    placeMarker();
    fixed('location', 'lat');
    saveDraft();
    lookNearby();
  }

  function placeMarker() {
    if (picker) { picker.show(parseFloat(lat.value), parseFloat(lng.value)); }
  }

  function locate() {
    if (!navigator.geolocation) {
      geoStatus.textContent = msg('no-geo');
      openManual();
      return;
    }
    geoStatus.textContent = msg('locating');
    navigator.geolocation.getCurrentPosition(function (pos) {
      if (manual.value === 'true' && lat.value && lng.value && manualTouched) { return; }
      setPosition(pos.coords.latitude, pos.coords.longitude, false);
      geoStatus.textContent = msg('located', { n: Math.max(1, Math.round(pos.coords.accuracy)) });
      geoStatus.className = 'geo-status ok';
    }, function () {
      if (!manualTouched) { lat.value = ''; lng.value = ''; manual.value = 'true'; placeMarker(); }
      geoStatus.textContent = msg('no-geo');
      geoStatus.className = 'geo-status warn';
      openManual();
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  function typedByHand() {
    manualTouched = true;
    manual.value = 'true';
    placeMarker();
    fixed('location', 'lat');
    if (lat.value && lng.value) {
      geoStatus.textContent = msg('manual', { lat: lat.value, lng: lng.value });
      geoStatus.className = 'geo-status';
    }
  }
  lat.addEventListener('input', typedByHand);
  lng.addEventListener('input', typedByHand);

  form.addEventListener('change', function (e) {
    if (e.target.name === 'category') { fixed('category'); }
  });
  desc.addEventListener('input', function () { fixed('description'); });
  address.addEventListener('input', function () { fixed('address'); });

  /* The draft: kept as the rider goes, per account, until the report is
     saved or the rider discards it. Text in localStorage, photos as Blobs
     in IndexedDB (too large for localStorage). Where storage is refused
     (private mode, full), the form works as without a draft. */

  var restoring = false;
  var draftTimer = null;

  function draftFields() {
    return {
      category: checked('category'), description: desc.value, address: address.value,
      lat: lat.value, lng: lng.value, manual: manual.value, touched: manualTouched
    };
  }

  function saveDraft() {
    if (restoring || sending) { return; }
    clearTimeout(draftTimer);
    draftTimer = setTimeout(function () {
      var f = draftFields();
      try {
        if (!f.category && !f.description && !f.address && !f.touched && !photos.length) {
          localStorage.removeItem(DRAFT);
        } else {
          localStorage.setItem(DRAFT, JSON.stringify(f));
        }
      } catch (e) { /* no storage: no draft */ }
    }, 250);
  }
  form.addEventListener('input', saveDraft);
  form.addEventListener('change', saveDraft);

  function photoDB() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error('no IndexedDB')); return; }
      var rq = indexedDB.open('nx-report-draft', 1);
      rq.onupgradeneeded = function () { rq.result.createObjectStore('photos'); };
      rq.onsuccess = function () { resolve(rq.result); };
      rq.onerror = function () { reject(rq.error); };
    });
  }

  function photoStore(mode, fn) {
    return photoDB().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction('photos', mode);
        var rq = fn(tx.objectStore('photos'));
        tx.oncomplete = function () { db.close(); resolve(rq && rq.result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  var photosSaved = Promise.resolve();
  function savePhotos() {
    if (restoring) { return photosSaved; }
    saveDraft();
    var keep = photos.map(function (p) {
      // The original goes along only when it carries GPS the server may
      // need; otherwise the shrunk photo is all that is sent.
      return { blob: p.blob, original: p.hasGPS && p.original !== p.blob ? p.original : null, hasGPS: p.hasGPS, decoded: p.decoded, name: p.original && p.original.name || '' };
    });
    photosSaved = photosSaved.then(function () {
      return photoStore('readwrite', function (st) { return keep.length ? st.put(keep, user) : st.delete(user); });
    }).catch(function () { /* no storage: no draft photos */ });
    return photosSaved;
  }

  function clearDraft() {
    clearTimeout(draftTimer);
    try { localStorage.removeItem(DRAFT); } catch (e) { /* no storage */ }
    photosSaved = photosSaved.then(function () {
      return photoStore('readwrite', function (st) { return st.delete(user); });
    }).catch(function () { /* no storage */ });
    return photosSaved;
  }

  function restoreDraft() {
    var f = null;
    try { f = JSON.parse(localStorage.getItem(DRAFT) || 'null'); } catch (e) { f = null; }
    var stored = photoStore('readonly', function (st) { return st.get(user); }).catch(function () { return null; });
    return stored.then(function (kept) {
      if (!f && !(kept && kept.length)) { return false; }
      restoring = true;
      if (f) {
        var radio = form.querySelector('input[name="category"][value="' + String(f.category || '').replace(/["\\]/g, '') + '"]');
        if (radio) { radio.checked = true; }
        desc.value = f.description || '';
        address.value = f.address || '';
        count();
        if (f.lat && f.lng) {
          lat.value = f.lat;
          lng.value = f.lng;
          manual.value = f.manual === 'false' ? 'false' : 'true';
          // A place picked by hand stays; a position from the phone is
          // looked for again, the rider may have moved.
          manualTouched = manual.value === 'true' && !!f.touched;
          placeMarker();
          if (manualTouched) {
            geoStatus.textContent = msg('manual', { lat: lat.value, lng: lng.value });
            geoStatus.className = 'geo-status';
          }
        }
      }
      (kept || []).slice(0, maxPhotos).forEach(function (k) {
        if (!k || !k.blob) { return; }
        photos.push({ blob: k.blob, original: k.original || k.blob, hasGPS: !!k.hasGPS, url: k.decoded ? URL.createObjectURL(k.blob) : '', decoded: !!k.decoded });
      });
      renderPreviews();
      restoring = false;
      draftNote.hidden = false;
      lookNearby();
      return true;
    });
  }

  $('draft-discard').addEventListener('click', function () {
    clearDraft();
    photos.forEach(function (p) { if (p.url) { URL.revokeObjectURL(p.url); } });
    photos = [];
    renderPreviews();
    Array.prototype.forEach.call(form.querySelectorAll('input[name="category"]'), function (r) { r.checked = false; });
    desc.value = '';
    address.value = '';
    count();
    draftNote.hidden = true;
    if (manualTouched) {
      manualTouched = false;
      lat.value = '';
      lng.value = '';
      manual.value = 'true';
      placeMarker();
      locate();
    }
  });

  /* Sending */

  var sending = false;
  var xhr = null;
  var timer = null;
  var attempt = 0;

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function checked(name) {
    var el = form.querySelector('input[name="' + name + '"]:checked');
    return el ? el.value : '';
  }

  function lock(on) {
    sending = on;
    form.classList.toggle('sending', on);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el !== cancelBtn && el.type !== 'hidden') { el.disabled = on; }
    });
    cancelBtn.hidden = !on;
    progress.hidden = !on;
    $('draft-discard').disabled = on;
  }

  function toDataURL(blob) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.onerror = reject;
      r.readAsDataURL(blob);
    });
  }

  function fromDataURL(s) {
    var comma = s.indexOf(',');
    var type = s.slice(5, s.indexOf(';'));
    var bin = atob(s.slice(comma + 1));
    var b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { b[i] = bin.charCodeAt(i); }
    return new Blob([b], { type: type });
  }

  // pending is the report being sent: its key and exactly what is sent,
  // so that every retry sends the same bytes under the same key.
  var pending = null;

  function save() {
    var keep = { key: pending.key, fields: pending.fields, photos: null };
    return Promise.all(pending.photos.map(function (p) { return toDataURL(p.blob).then(function (u) { return { name: p.name, data: u }; }); }))
      .then(function (ps) {
        keep.photos = ps;
        try {
          sessionStorage.setItem(PENDING, JSON.stringify(keep));
        } catch (e) {
          keep.photos = null; // too large to keep: keep the rest
          try { sessionStorage.setItem(PENDING, JSON.stringify(keep)); } catch (e2) { /* private mode */ }
        }
      }, function () { /* keep nothing: the send goes on */ });
  }

  function forget() {
    pending = null;
    try { sessionStorage.removeItem(PENDING); } catch (e) { /* private mode */ }
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (sending) { return; }
    showError('');
    var category = checked('category');
    if (!photos.length || !category) {
      // Every missing field at once, each next to its field.
      if (!photos.length) { fieldError('photos', msg('need-photo')); }
      if (!category) { fieldError('category', msg('need-category')); }
      if (!photos.length && !category) {
        showError(msg('fix-fields'));
        $('photos-field').scrollIntoView({ block: 'center', behavior: 'smooth' });
      } else {
        showError(!photos.length ? msg('need-photo') : msg('need-category'), !photos.length ? 'photos' : 'category');
      }
      return;
    }
    var fields = { category: category, description: desc.value, address: address.value };
    if (lat.value.trim() || lng.value.trim()) {
      fields.lat = lat.value.trim();
      fields.lng = lng.value.trim();
      fields.manual = manual.value === 'true' ? 'true' : 'false';
    }
    var usedGPS = false;
    var sent = photos.map(function (p, i) {
      var blob = p.blob;
      // Without a position, send the first photo that has GPS as taken.
      if (!fields.lat && !usedGPS && p.hasGPS && p.original.size <= SERVER_LIMIT) {
        blob = p.original;
        usedGPS = true;
      }
      return { name: 'photo-' + (i + 1) + (blob.type === 'image/png' ? '.png' : blob.type === 'image/webp' ? '.webp' : '.jpg'), blob: blob };
    });
    pending = { key: uuid(), fields: fields, photos: sent };
    attempt = 0;
    lock(true);
    save().then(send);
  });

  cancelBtn.addEventListener('click', function () {
    if (xhr) { xhr.abort(); xhr = null; }
    clearTimeout(timer);
    forget();
    lock(false);
    statusLine.textContent = '';
  });

  function send() {
    clearTimeout(timer);
    attempt++;
    var fd = new FormData();
    Object.keys(pending.fields).forEach(function (k) { fd.append(k, pending.fields[k]); });
    pending.photos.forEach(function (p) { fd.append('photos', p.blob, p.name); });
    xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/reports');
    xhr.timeout = 180000;
    xhr.setRequestHeader('Idempotency-Key', pending.key);
    xhr.setRequestHeader('X-CSRF-Token', csrfMeta ? csrfMeta.content : '');
    xhr.setRequestHeader('Accept', 'application/json');
    progress.value = 0;
    statusLine.textContent = msg('saving', { p: 0 });
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var p = Math.floor(e.loaded / e.total * 100);
        progress.value = p;
        statusLine.textContent = msg('saving', { p: p });
      }
    };
    var req = xhr;
    xhr.onload = function () { if (req === xhr) { answered(req); } };
    xhr.onerror = xhr.ontimeout = function () { if (req === xhr) { retry('offline'); } };
    xhr.send(fd);
  }

  function answered(r) {
    var body = null;
    try { body = JSON.parse(r.responseText); } catch (e) { /* not JSON */ }
    if (r.status >= 200 && r.status < 300 && body && body.id) {
      forget();
      progress.value = 100;
      statusLine.textContent = msg('saved');
      var to = '/reports/' + encodeURIComponent(body.id);
      try { sessionStorage.setItem(DONE, to); } catch (e) { /* private mode */ }
      // Replace, not assign: the form leaves the history, so Back from the
      // report does not show it again, locked, with a button inviting a
      // second report. The draft goes first: it is this report.
      clearDraft().then(function () { window.location.replace(to); });
      return;
    }
    if (r.status === 0 || r.status >= 500 || r.status === 408 || r.status === 429) {
      retry(r.status === 0 ? 'offline' : 'server');
      return;
    }
    // Refused: nothing was saved. Say why and let the rider fix it; after a
    // lost session the same report is sent once they have logged in again.
    xhr = null;
    lock(false);
    statusLine.textContent = '';
    if (r.status === 401 || r.status === 403) {
      showError(msg('login'));
      var a = document.createElement('a');
      a.href = '/login?next=' + encodeURIComponent('/report');
      a.textContent = msg('login-link');
      errorBox.appendChild(document.createTextNode(' '));
      errorBox.appendChild(a);
      return;
    }
    forget();
    showError(msg('refused') + explain(body), fieldOf(body));
  }

  // fieldOf is the field a refusal is about, from its stable code.
  function fieldOf(body) {
    var code = (body && body.code) || '';
    if (code.indexOf('photo.') === 0) { return 'photos'; }
    var f = { 'invalid.photos': 'photos', 'invalid.category': 'category', 'invalid.location': 'location', 'invalid.lat': 'lat', 'invalid.lng': 'lat', 'invalid.description': 'description', 'invalid.address': 'address' }[code];
    return f || '';
  }

  // explain puts a problem document into the page's language by its stable
  // code where the page knows it, else shows its detail.
  function explain(body) {
    if (!body) { return ''; }
    var detail = body.detail || body.title || '';
    var code = body.code || '';
    if (code.indexOf('photo.') === 0 && form.hasAttribute('data-msg-photo-' + code.slice(6))) { return msg('photo-' + code.slice(6)); }
    var known = { location: 'bad-location', lat: 'bad-coords', lng: 'bad-coords', category: 'need-category', photos: 'need-photo', description: 'bad-description', address: 'bad-address' };
    if (code.indexOf('invalid.') === 0 && known[code.slice(8)]) { return msg(known[code.slice(8)]); }
    return detail;
  }

  function retry(why) {
    xhr = null;
    var wait = Math.min(30, Math.pow(2, attempt - 1));
    var left = wait;
    var tick = function () {
      statusLine.textContent = msg(why, { n: left, k: attempt });
      if (left <= 0) { send(); return; }
      left--;
      timer = setTimeout(tick, 1000);
    };
    tick();
  }

  window.addEventListener('online', function () {
    if (sending && !xhr && pending) { clearTimeout(timer); send(); }
  });

  /* "Me too" (我也遇到): once a category and a position are known, and again
     when either changes, the open reports of that category nearby are
     offered above the send button; one tap adds the rider's confirmation
     (with the form's first photo, if any) to one of them instead of filing
     a new report. The rider sees no report but what the card shows. */

  var metooPanel = $('metoo-panel');
  var metooList = $('metoo-list');
  var metooStatus = $('metoo-status');
  var metooTimer = null;
  var metooAsked = '';    // the query shown (or being asked): not asked twice
  var metooSeq = 0;       // an answer to an older query is dropped
  var metooBusy = false;  // a confirmation is being sent
  var metooDone = false;  // one was recorded: the panel says so until a new category is chosen

  function setMetooStatus(text, kind) {
    metooStatus.textContent = text;
    metooStatus.className = 'metoo-status' + (kind ? ' ' + kind : '');
  }

  function hideNearby() {
    metooList.textContent = '';
    metooPanel.hidden = true;
  }

  function lookNearby() {
    if (!metooPanel || metooDone || sending) { return; }
    clearTimeout(metooTimer);
    metooTimer = setTimeout(function () {
      var category = checked('category');
      var la = parseFloat(lat.value), ln = parseFloat(lng.value);
      if (!category || !isFinite(la) || !isFinite(ln)) { metooAsked = ''; hideNearby(); return; }
      var q = 'category=' + encodeURIComponent(category) + '&lat=' + la.toFixed(6) + '&lng=' + ln.toFixed(6);
      if (q === metooAsked) { return; }
      metooAsked = q;
      var seq = ++metooSeq;
      var x = new XMLHttpRequest();
      x.open('GET', '/api/v1/reports/nearby?' + q);
      x.setRequestHeader('Accept', 'application/json');
      x.onload = function () {
        if (seq !== metooSeq) { return; }
        var body = null;
        try { body = JSON.parse(x.responseText); } catch (e) { body = null; }
        if (x.status !== 200 || !body || !body.reports) {
          // Not offered this time (the service is busy, the session
          // ended): the rider reports as without it.
          metooAsked = '';
          hideNearby();
          return;
        }
        showNearby(body.reports);
      };
      x.onerror = function () { if (seq === metooSeq) { metooAsked = ''; } };
      x.send();
    }, 300);
  }

  function ago(t) {
    var m = Math.floor((Date.now() - new Date(t).getTime()) / 60000);
    if (!(m >= 1)) { return msg('metoo-just-now'); }
    if (m < 60) { return msg('metoo-minutes', { n: m }); }
    if (m < 48 * 60) { return msg('metoo-hours', { n: Math.floor(m / 60) }); }
    return msg('metoo-days', { n: Math.floor(m / 1440) });
  }

  function showNearby(list) {
    metooList.textContent = '';
    if (!list.length) { metooPanel.hidden = true; return; }
    list.forEach(function (n) {
      var li = document.createElement('li');
      li.className = 'metoo-card';
      if (n.thumb) {
        var img = document.createElement('img');
        img.src = n.thumb;
        img.alt = msg('metoo-thumb');
        img.width = 72;
        img.height = 72;
        li.appendChild(img);
      } else {
        var none = document.createElement('span');
        none.className = 'metoo-nothumb';
        none.setAttribute('aria-hidden', 'true');
        li.appendChild(none);
      }
      var text = document.createElement('div');
      text.className = 'metoo-text';
      var line = document.createElement('p');
      line.textContent = msg('metoo-card', { d: n.distance_m, ago: ago(n.created_at) }) +
        (n.me_too > 0 ? ' · ' + msg('metoo-count', { n: n.me_too }) : '');
      text.appendChild(line);
      li.appendChild(text);
      if (n.confirmed) {
        var done = document.createElement('span');
        done.className = 'metoo-done';
        done.textContent = msg('metoo-confirmed');
        li.appendChild(done);
      } else {
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'primary metoo-button';
        b.textContent = msg('metoo-button');
        b.setAttribute('aria-label', msg('metoo-button-for', { d: n.distance_m }));
        b.setAttribute('data-ref', n.ref);
        li.appendChild(b);
      }
      metooList.appendChild(li);
    });
    $('metoo-hint').hidden = false;
    $('metoo-not-this').hidden = false;
    setMetooStatus('', '');
    metooPanel.hidden = false;
  }

  // metooProblem tells a refused confirmation in the page's language.
  function metooProblem(body) {
    var code = (body && body.code) || '';
    if (code.indexOf('metoo.') === 0 && form.hasAttribute('data-msg-metoo-' + code.replace('.', '-'))) {
      return msg('metoo-' + code.replace('.', '-'));
    }
    return explain(body);
  }

  function confirmMeToo(b) {
    metooBusy = true;
    b.disabled = true;
    setMetooStatus(msg('metoo-sending'), '');
    var fd = new FormData();
    fd.append('ref', b.getAttribute('data-ref'));
    if (photos.length) {
      var blob = photos[0].blob;
      fd.append('photo', blob, 'photo-1' + (blob.type === 'image/png' ? '.png' : blob.type === 'image/webp' ? '.webp' : '.jpg'));
    }
    var x = new XMLHttpRequest();
    x.open('POST', '/api/v1/reports/metoo');
    x.timeout = 120000;
    x.setRequestHeader('X-CSRF-Token', csrfMeta ? csrfMeta.content : '');
    x.setRequestHeader('Accept', 'application/json');
    x.onload = function () {
      metooBusy = false;
      var body = null;
      try { body = JSON.parse(x.responseText); } catch (e) { body = null; }
      if (x.status === 201 && body && body.recorded) {
        recordedMeToo();
        return;
      }
      b.disabled = false;
      if (x.status === 401 || x.status === 403) {
        setMetooStatus(msg('login'), 'bad');
        return;
      }
      setMetooStatus(msg('metoo-failed') + metooProblem(body), 'bad');
      var code = (body && body.code) || '';
      if (code === 'metoo.expired' || code === 'metoo.unknown' || code === 'metoo.closed' || code === 'metoo.done') {
        // The list is out of date: ask again, keeping the sentence.
        var said = metooStatus.textContent;
        metooAsked = '';
        lookNearby();
        setTimeout(function () { setMetooStatus(said, 'bad'); }, 600);
      }
    };
    x.onerror = x.ontimeout = function () {
      metooBusy = false;
      b.disabled = false;
      setMetooStatus(msg('metoo-failed') + msg('metoo-offline'), 'bad');
    };
    x.send(fd);
  }

  // recordedMeToo: the confirmation is stored. The panel says so, and the
  // draft, which was this problem, goes; the form is empty for another.
  function recordedMeToo() {
    metooDone = true;
    metooList.textContent = '';
    $('metoo-hint').hidden = true;
    $('metoo-not-this').hidden = true; // the form is empty for another report already
    setMetooStatus(msg('metoo-recorded'), 'ok');
    clearDraft();
    photos.forEach(function (p) { if (p.url) { URL.revokeObjectURL(p.url); } });
    photos = [];
    renderPreviews();
    Array.prototype.forEach.call(form.querySelectorAll('input[name="category"]'), function (r) { r.checked = false; });
    desc.value = '';
    address.value = '';
    count();
    draftNote.hidden = true;
    metooPanel.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }

  if (metooPanel) {
    metooList.addEventListener('click', function (e) {
      var b = e.target.closest('button[data-ref]');
      if (!b || sending || metooBusy) { return; }
      confirmMeToo(b);
    });
    $('metoo-not-this').addEventListener('click', function () {
      // Not this one: the rider goes on with a new report.
      hideNearby();
      setMetooStatus('', '');
      if (metooDone) { metooDone = false; }
      submitBtn.focus();
    });
    form.addEventListener('change', function (e) {
      if (e.target.name !== 'category') { return; }
      if (metooDone) { metooDone = false; setMetooStatus('', ''); }
      lookNearby();
    });
    lat.addEventListener('input', lookNearby);
    lng.addEventListener('input', lookNearby);
  }

  /* A report still pending from before a reload goes on where it stopped. */

  function resume() {
    var raw = null;
    try { raw = sessionStorage.getItem(PENDING); } catch (e) { return false; }
    if (!raw) { return false; }
    var kept;
    try { kept = JSON.parse(raw); } catch (e) { forget(); return false; }
    var f = kept.fields || {};
    var radio = form.querySelector('input[name="category"][value="' + (f.category || '').replace(/"/g, '') + '"]');
    if (radio) { radio.checked = true; }
    desc.value = f.description || '';
    address.value = f.address || '';
    count();
    if (f.lat) { lat.value = f.lat; lng.value = f.lng; manual.value = f.manual; manualTouched = true; placeMarker(); }
    if (!kept.photos || !kept.key) {
      forget();
      showError(msg('lost'));
      return false;
    }
    pending = { key: kept.key, fields: f, photos: kept.photos.map(function (p) { return { name: p.name, blob: fromDataURL(p.data) }; }) };
    photos = pending.photos.map(function (p) { return { blob: p.blob, original: p.blob, hasGPS: false, url: URL.createObjectURL(p.blob), decoded: true }; });
    renderPreviews();
    statusLine.textContent = msg('resume');
    attempt = 0;
    lock(true);
    send();
    return true;
  }

  /* Back to a form whose report was saved (a browser that kept the page in
     its back-forward cache) goes to the report instead. */
  window.addEventListener('pageshow', function (e) {
    if (!e.persisted) { return; }
    var to = null;
    try { to = sessionStorage.getItem(DONE); } catch (err) { /* private mode */ }
    if (to) { window.location.replace(to); }
  });

  if (!resume()) {
    try { sessionStorage.removeItem(DONE); } catch (e) { /* private mode */ }
    restoreDraft().then(function (had) {
      if (!(had && manualTouched)) { locate(); }
    }, locate);
  }
})();
