/*
 * The status page's three static assets. No framework and no inline script, so the page can be
 * served with a Content-Security-Policy that allows only its own files.
 */

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RealApp status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status/status.css">
<script src="/status/status.js" defer></script>
</head>
<body>
<header>
  <h1>RealApp status</h1>
  <p id="overall" class="pill" data-state="loading">Loading…</p>
  <p class="meta">Updated <time id="updated">never</time> · refreshes every <span id="interval">5</span> s
    <span id="stale" hidden> · <strong>could not refresh: showing the last answer</strong></span></p>
</header>
<main>
  <section aria-labelledby="services-title">
    <h2 id="services-title">Services</h2>
    <table id="services"><thead><tr><th>Service</th><th>Readiness</th><th>Instances ready</th><th>Checks</th></tr></thead><tbody></tbody></table>
  </section>
  <section aria-labelledby="workers-title">
    <h2 id="workers-title">Worker heartbeats</h2>
    <p id="workers-summary"></p>
    <table id="workers"><thead><tr><th>Worker</th><th>Last heartbeat</th><th>State</th></tr></thead><tbody></tbody></table>
  </section>
  <section aria-labelledby="queue-title">
    <h2 id="queue-title">Ads orders by status</h2>
    <table id="queue"><thead><tr><th>Status</th><th>Orders</th></tr></thead><tbody></tbody></table>
  </section>
  <section aria-labelledby="incidents-title">
    <h2 id="incidents-title">Open incidents</h2>
    <p id="incidents-empty">None.</p>
    <table id="incidents" hidden><thead><tr><th>Level</th><th>Error</th><th>Where</th><th>Count</th><th>First seen</th><th>Last seen</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<noscript><p>This page refreshes with JavaScript; the raw data is at <a href="/status/data">/status/data</a>.</p></noscript>
</body>
</html>
`;

export const STATUS_CSS = `
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #6e7781; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 960px; padding: 1.5rem; }
h1 { margin: 0 0 .5rem; font-size: 1.6rem; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid color-mix(in srgb, currentColor 15%, transparent); }
th { font-weight: 600; color: var(--muted); }
.meta { color: var(--muted); margin: .3rem 0 0; }
.pill { display: inline-block; padding: .2rem .8rem; border-radius: 1rem; font-weight: 600; margin: 0; }
.pill[data-state="operational"] { background: color-mix(in srgb, var(--ok) 18%, transparent); color: var(--ok); }
.pill[data-state="degraded"] { background: color-mix(in srgb, var(--bad) 18%, transparent); color: var(--bad); }
.up { color: var(--ok); font-weight: 600; }
.down { color: var(--bad); font-weight: 600; }
.L1 { color: var(--warn); font-weight: 600; }
.L2, .L3 { color: var(--bad); font-weight: 700; }
`;

export const STATUS_JS = `'use strict';
(function () {
  var params = new URLSearchParams(location.search);
  var seconds = Math.min(300, Math.max(1, Number(params.get('refresh')) || 5));
  document.getElementById('interval').textContent = String(seconds);

  function cell(row, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }
  function fill(id, rows) {
    var body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren.apply(body, rows);
  }
  function ago(secondsAgo) {
    if (secondsAgo < 60) return secondsAgo + ' s ago';
    if (secondsAgo < 3600) return Math.floor(secondsAgo / 60) + ' min ago';
    return Math.floor(secondsAgo / 3600) + ' h ago';
  }
  function render(data) {
    var overall = document.getElementById('overall');
    overall.dataset.state = data.overall;
    overall.textContent = data.overall === 'operational' ? 'All systems operational' : 'Degraded';

    fill('services', data.services.map(function (s) {
      var row = document.createElement('tr');
      row.dataset.service = s.service;
      cell(row, s.service);
      cell(row, s.ready ? 'ready' : (s.reported ? 'not ready' : 'no report'), s.ready ? 'up' : 'down');
      cell(row, s.readyInstances + ' / ' + s.instances);
      cell(row, Object.keys(s.checks).sort().map(function (name) { return name + (s.checks[name] ? ' ✓' : ' ✗'); }).join(', ') || '—');
      return row;
    }));

    document.getElementById('workers-summary').textContent = data.workers.healthy
      ? 'Healthy: a worker reported within the last 60 s.'
      : 'Unhealthy: no worker heartbeat in the last 60 s.';
    document.getElementById('workers-summary').className = data.workers.healthy ? 'up' : 'down';
    fill('workers', data.workers.items.map(function (w) {
      var row = document.createElement('tr');
      row.dataset.worker = w.workerId;
      cell(row, w.workerId);
      cell(row, ago(w.ageSeconds));
      cell(row, w.healthy ? 'alive' : 'silent', w.healthy ? 'up' : 'down');
      return row;
    }));

    fill('queue', Object.keys(data.queueDepth).map(function (status) {
      var row = document.createElement('tr');
      row.dataset.status = status;
      cell(row, status.replace(/_/g, ' '));
      cell(row, String(data.queueDepth[status]));
      return row;
    }));

    document.getElementById('incidents-empty').hidden = data.incidents.length > 0;
    document.getElementById('incidents').hidden = data.incidents.length === 0;
    fill('incidents', data.incidents.map(function (i) {
      var row = document.createElement('tr');
      row.dataset.level = i.level;
      cell(row, i.level, i.level);
      cell(row, i.code);
      cell(row, i.place);
      cell(row, String(i.count));
      cell(row, new Date(i.firstSeenAt).toLocaleString());
      cell(row, new Date(i.lastSeenAt).toLocaleString());
      return row;
    }));

    var updated = document.getElementById('updated');
    updated.dateTime = data.generatedAt;
    updated.textContent = new Date(data.generatedAt).toLocaleTimeString();
    document.body.dataset.generatedAt = data.generatedAt;
  }
  function refresh() {
    fetch('/status/data', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
      .then(function (data) { render(data); document.getElementById('stale').hidden = true; })
      .catch(function () { document.getElementById('stale').hidden = false; })
      .finally(function () { setTimeout(refresh, seconds * 1000); });
  }
  refresh();
})();
`;
