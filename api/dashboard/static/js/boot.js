// A classic (non-module) watchdog: when the dashboard's modules fail to load
// (a dropped connection, an old browser), app.js never runs and the page
// would say "Loading…" forever. After 8 s without app.js, say so and offer
// a reload.
'use strict';
setTimeout(function () {
  if (document.documentElement.dataset.ready) return;
  var box = document.getElementById('boot-error');
  if (!box) return;
  box.hidden = false;
  document.getElementById('boot-reload').addEventListener('click', function () { location.reload(); });
}, 8000);
