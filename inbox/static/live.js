/* Live updates for the report, queue, "my reports" and inbox pages. The
   page's root element says what it shows (data-live); the server's event
   stream (/api/v1/live) says what changed. On a change the page fetches
   itself again and swaps the parts marked data-region, so the server keeps
   rendering everything and the scroll position stays where it was. A part
   with something typed in it is left alone. */
(function () {
  'use strict';

  var root = document.querySelector('[data-live]');
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var kind = root.getAttribute('data-live');
  var reportId = root.getAttribute('data-report-id');
  var sep = root.getAttribute('data-msg-sep') || ': ';

  function seq() { return parseInt(root.getAttribute('data-seq') || '0', 10); }

  /* A toast says what happened without moving anything. */
  var toastBox = document.createElement('div');
  toastBox.className = 'toasts';
  toastBox.setAttribute('role', 'status');
  toastBox.setAttribute('aria-live', 'polite');
  document.body.appendChild(toastBox);

  function toast(text) {
    if (!text) { return; }
    var t = document.createElement('p');
    t.className = 'toast';
    t.textContent = text;
    toastBox.appendChild(t);
    setTimeout(function () { t.classList.add('gone'); }, 5000);
    setTimeout(function () { t.remove(); }, 5600);
  }

  /* Typing in a form marks its region: it is not replaced under the user. */
  document.addEventListener('input', function (e) {
    var r = e.target.closest && e.target.closest('[data-region]');
    if (r) { r.setAttribute('data-dirty', 'true'); }
  });

  var busy = false, again = false, timer = null;
  var arrived = {}; // ids of reports that came into the queue since the last refresh

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay || 150);
  }

  // refresh fetches the page again and swaps its live regions.
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var before = statusOf(document);
    fetch(location.pathname + location.search, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.querySelector('[data-live]');
        if (fresh && fresh.hasAttribute('data-seq')) { root.setAttribute('data-seq', fresh.getAttribute('data-seq')); }
        var kept = false;
        document.querySelectorAll('[data-region]').forEach(function (el) {
          var name = el.getAttribute('data-region');
          var next = doc.querySelector('[data-region="' + name + '"]');
          if (!next || next.innerHTML === el.innerHTML) { return; }
          if (el.getAttribute('data-dirty') === 'true') { kept = true; return; }
          el.replaceWith(document.importNode(next, true));
        });
        var after = statusOf(document);
        if (kind === 'report' && after && after !== before) {
          toast(root.getAttribute('data-msg-updated') + sep + after);
        }
        if (kept) { toast(root.getAttribute('data-msg-kept')); }
        // New reports in the queue: say what they are about.
        Object.keys(arrived).forEach(function (id) {
          var what = document.querySelector('[data-report-row="' + id + '"] strong');
          toast(root.getAttribute('data-msg-new') + (what ? sep + what.textContent : ''));
          delete arrived[id];
        });
      })
      .catch(function () { /* the next event or the periodic refresh tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }

  function statusOf(doc) {
    var s = doc.getElementById('report-status');
    return s ? s.textContent.trim() : '';
  }

  /* Unread messages in the navigation. */
  var badge = document.querySelector('[data-unread]');
  var unread = 0;
  function bump() {
    if (!badge) { return; }
    unread++;
    badge.textContent = String(unread);
    badge.hidden = false;
  }

  var es = new EventSource('/api/v1/live');
  // Anything that changed between rendering the page and connecting (or
  // while disconnected) is picked up by one refresh on every (re)connection.
  es.addEventListener('open', function () { schedule(); });
  // The server ends the stream when the session ends (logout, disabled
  // account): stop rather than reconnect into a refusal.
  es.addEventListener('ended', function () { es.close(); });

  es.addEventListener('report', function (e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    switch (kind) {
      case 'report':
        if (d.id === reportId && d.seq > seq()) { schedule(); }
        break;
      case 'queue':
        if (d.status === 'submitted' && !document.querySelector('[data-report-row="' + d.id + '"]')) {
          arrived[d.id] = true;
        }
        schedule();
        break;
      case 'mine':
        schedule();
        break;
    }
  });

  es.addEventListener('notification', function () {
    bump();
    if (kind === 'inbox') {
      schedule();
      toast(root.getAttribute('data-msg-updated'));
    }
  });

  // Time left to a deadline goes stale: the queue is redrawn every minute.
  if (kind === 'queue') {
    setInterval(function () { if (!document.hidden) { schedule(); } }, 60000);
  }
})();
