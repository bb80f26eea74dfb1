// A proposal's page: progressive enhancement only; the ballot works
// without this script and the server checks every rule again.
(function () {
  "use strict";
  // The feedback form: a photo over the limit is refused here, before a
  // long upload that the server would refuse whole.
  var photo = document.getElementById("photo");
  var photoErr = document.getElementById("photo-size");
  if (photo && photoErr && photo.hasAttribute("data-max-bytes")) {
    var maxBytes = parseInt(photo.getAttribute("data-max-bytes"), 10);
    photo.addEventListener("change", function () {
      var f = photo.files && photo.files[0];
      var over = !!f && f.size > maxBytes;
      photoErr.hidden = !over;
      photo.setCustomValidity(over ? photoErr.textContent : "");
    });
  }

  var page = document.getElementById("proposal");
  if (!page) { return; }
  var id = page.getAttribute("data-proposal");
  var storeKey = "nuanxin.receipts." + id;

  function stored() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "[]"); } catch (e) { return []; }
  }
  function store(code) {
    try {
      var codes = stored();
      if (codes.indexOf(code) < 0) { codes.push(code); }
      localStorage.setItem(storeKey, JSON.stringify(codes));
    } catch (e) { /* private mode: the code stays on screen only */ }
  }

  // Keep the receipt code of a vote just cast in this browser, so that the
  // published list can point it out later (a hint: another browser, or
  // cleared storage, does not know it; the code the rider noted does).
  var receipt = document.getElementById("receipt");
  if (receipt) { store(receipt.getAttribute("data-code")); }

  var codes = stored();
  var note = document.getElementById("stored-receipt");
  if (note && codes.length > 0 && !receipt) {
    note.textContent = page.getAttribute("data-msg-stored").replace("%s", codes.join(", "));
    note.hidden = false;
  }

  // Approval ballots: at most data-max boxes.
  var ballot = document.getElementById("ballot");
  var maxMsg = document.getElementById("ballot-max");
  if (ballot && ballot.hasAttribute("data-max") && maxMsg) {
    var max = parseInt(ballot.getAttribute("data-max"), 10);
    var boxes = ballot.querySelectorAll('input[type="checkbox"]');
    var check = function () {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) { n++; } });
      var over = n > max;
      maxMsg.hidden = !over;
      maxMsg.textContent = over ? page.getAttribute("data-msg-max").replace("%d", String(max)) : "";
      return n >= 1 && !over;
    };
    boxes.forEach(function (b) { b.addEventListener("change", check); });
    ballot.addEventListener("submit", function (e) { if (!check()) { e.preventDefault(); maxMsg.hidden = false; if (!maxMsg.textContent) { maxMsg.textContent = page.getAttribute("data-msg-max").replace("%d", String(max)); } } });
  }

  // Published receipts: highlight the codes this browser kept, and filter
  // the list by what the rider types.
  var table = document.getElementById("receipts-table");
  if (!table) { return; }
  var rows = table.querySelectorAll("tbody tr");
  var found = [];
  rows.forEach(function (r) {
    if (codes.indexOf(r.getAttribute("data-code")) >= 0) {
      r.classList.add("mine");
      found.push(r.getAttribute("data-code"));
    }
  });
  if (note && codes.length > 0) {
    var missing = codes.filter(function (c) { return found.indexOf(c) < 0; });
    note.textContent = missing.length === 0
      ? page.getAttribute("data-msg-found").replace("%s", found.join(", "))
      : page.getAttribute("data-msg-not-found").replace("%s", missing.join(", "));
    note.hidden = false;
  }
  var search = document.getElementById("receipt-search");
  if (search) {
    search.addEventListener("input", function () {
      var q = search.value.toUpperCase().replace(/[^0-9A-Z]/g, "");
      rows.forEach(function (r) {
        var code = (r.getAttribute("data-code") || "").toUpperCase().replace(/[^0-9A-Z]/g, "");
        r.hidden = q !== "" && code.indexOf(q) < 0;
      });
    });
  }
})();
