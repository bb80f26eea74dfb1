// Council pages of station admins (council/pages_admin.go): the poster's
// print button, and on the proposal form, only the fields the chosen ballot
// kind uses. Every page works without it.
(function () {
  'use strict';
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.hidden = false;
    b.addEventListener('click', function () { window.print(); });
  });

  var form = document.getElementById('proposal-form');
  if (!form) return;
  var blocks = form.querySelectorAll('[data-kinds]');
  function show() {
    var checked = form.querySelector('input[name="kind"]:checked');
    var kind = checked ? checked.value : '';
    blocks.forEach(function (el) {
      el.hidden = el.getAttribute('data-kinds').split(' ').indexOf(kind) < 0;
    });
  }
  form.querySelectorAll('input[name="kind"]').forEach(function (r) { r.addEventListener('change', show); });
  show();
})();
