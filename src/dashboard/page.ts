/**
 * The dashboard's page and style sheet. The script is app.ts (compiled next to this file); nothing is loaded from
 * elsewhere, so the page works on a closed network and under a strict Content-Security-Policy (no inline code).
 */

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Starling</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="dashboard.css">
<script type="module" src="app.js"></script>
</head>
<body>
<header>
  <h1>Starling <span id="version" class="muted"></span></h1>
  <div class="status"><span id="status-dot" class="dot"></span><span id="status">connecting…</span></div>
</header>
<main>
  <form id="token-form" hidden>
    <label for="token">This broker's admin API needs a token</label>
    <input id="token" type="password" autocomplete="off" placeholder="admin.token">
    <button type="submit">Open</button>
  </form>
  <section class="cards" aria-label="Broker statistics">
    <div class="card"><h2>Clients connected</h2><p id="clients-connected" class="value">–</p>
      <p class="sub" id="sessions">–</p></div>
    <div class="card"><h2>Messages in</h2><p class="value"><span id="messages-received-rate">–</span><small>/s</small></p>
      <p class="sub"><span id="messages-received">–</span> total</p></div>
    <div class="card"><h2>Messages out</h2><p class="value"><span id="messages-sent-rate">–</span><small>/s</small></p>
      <p class="sub"><span id="messages-sent">–</span> total</p></div>
    <div class="card"><h2>Bytes in</h2><p class="value"><span id="bytes-received-rate">–</span><small>/s</small></p>
      <p class="sub"><span id="bytes-received">–</span> total</p></div>
    <div class="card"><h2>Bytes out</h2><p class="value"><span id="bytes-sent-rate">–</span><small>/s</small></p>
      <p class="sub"><span id="bytes-sent">–</span> total</p></div>
    <div class="card"><h2>Subscriptions</h2><p id="subscriptions" class="value">–</p></div>
    <div class="card"><h2>Retained messages</h2><p id="retained" class="value">–</p></div>
    <div class="card"><h2>Dropped messages</h2><p id="dropped" class="value">–</p>
      <p class="sub"><span id="dropped-rate">–</span>/s</p></div>
    <div class="card"><h2>Uptime</h2><p id="uptime" class="value">–</p>
      <p class="sub"><span id="memory">–</span> resident</p></div>
  </section>
  <section class="panel" aria-label="Message rates">
    <h2>Messages per second <span class="legend"><i class="in"></i>in <i class="out"></i>out</span></h2>
    <canvas id="chart"></canvas>
  </section>
  <section class="panel" aria-label="Clients">
    <h2>Clients <span id="clients-shown" class="muted"></span></h2>
    <div class="table-wrap"><table>
      <thead><tr><th>Client ID</th><th>Username</th><th>MQTT</th><th>Address</th><th>Listener</th>
        <th>Connected for</th><th class="num">Subs</th><th class="num">In flight</th><th class="num">Queued</th></tr></thead>
      <tbody id="clients"></tbody>
    </table></div>
    <p id="no-clients" class="muted">No clients connected.</p>
    <p class="muted hint">Select a client to see its session.</p>
  </section>
  <section id="session" class="panel" aria-label="Session" hidden>
    <h2>Session <span id="session-id" class="muted"></span>
      <button id="session-close" type="button" aria-label="Close">×</button></h2>
    <p id="session-summary" class="sub"></p>
    <div class="table-wrap"><table>
      <thead><tr><th>Topic filter</th><th class="num">QoS</th><th>No Local</th><th>Retain as Published</th>
        <th class="num">Retain Handling</th><th class="num">Subscription ID</th></tr></thead>
      <tbody id="session-subscriptions"></tbody>
    </table></div>
  </section>
</main>
</body>
</html>
`;

export const dashboardCss = `:root {
  --bg: #f5f6f8; --fg: #1d2330; --muted: #6b7385; --card: #fff; --line: #e2e5eb;
  --accent: #2f6fde; --accent2: #e0803a; --ok: #1f9d55; --bad: #d64545;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171d; --fg: #e6e8ec; --muted: #9098a8; --card: #1d2129; --line: #2c313c; }
}
body { margin: 0; }
[hidden] { display: none !important; }
header { display: flex; align-items: center; justify-content: space-between; padding: 12px 24px;
  background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 13px; font-weight: 600; margin: 0 0 8px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.muted { color: var(--muted); font-weight: 400; }
.status { display: flex; align-items: center; gap: 8px; color: var(--muted); }
.dot { width: 10px; height: 10px; border-radius: 50%; background: var(--muted); }
.dot.ok { background: var(--ok); }
.dot.bad { background: var(--bad); }
main { padding: 20px 24px; max-width: 1280px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; }
.card, .panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.panel { margin-top: 16px; }
.value { font-size: 28px; font-weight: 600; margin: 0; font-variant-numeric: tabular-nums; }
.value small { font-size: 14px; font-weight: 400; color: var(--muted); margin-left: 2px; }
.sub { margin: 4px 0 0; color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; }
canvas { width: 100%; height: 140px; display: block; }
.legend { float: right; text-transform: none; font-weight: 400; }
.legend i { display: inline-block; width: 10px; height: 3px; margin: 0 4px 3px 10px; }
.legend i.in { background: var(--accent); }
.legend i.out { background: var(--accent2); }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td:first-child { white-space: normal; word-break: break-all; min-width: 12em; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
#clients tr { cursor: pointer; }
#clients tr:hover, #clients tr.selected { background: var(--bg); }
.hint { font-size: 12px; margin: 8px 0 0; }
#session-id { text-transform: none; letter-spacing: 0; }
#session-close { float: right; border: 0; background: none; color: var(--muted); font-size: 18px; cursor: pointer; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
#token-form { display: flex; gap: 8px; align-items: center; margin-bottom: 16px; padding: 12px 16px;
  background: var(--card); border: 1px solid var(--bad); border-radius: 8px; }
#token-form input { flex: 1; max-width: 320px; padding: 6px 8px; }
`;

/** A starling's silhouette in the accent colour: the tab icon. */
export const dashboardIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<circle cx="16" cy="16" r="15" fill="#2f6fde"/>
<path d="M7 19c4-1 6-5 10-6 3-1 6 0 8 2l-3 1c-2 3-6 5-11 5z" fill="#fff"/>
<circle cx="21" cy="14.5" r="1" fill="#2f6fde"/>
</svg>
`;
