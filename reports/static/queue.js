/* The queue's filters apply as soon as one is changed. */
(function () {
  'use strict';
  var form = document.getElementById('queue-filters');
  if (!form) { return; }
  form.classList.add('js');
  form.addEventListener('change', function () {
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
