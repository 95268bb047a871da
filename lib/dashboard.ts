/**
 * The node's dashboard: one self-contained page (HTML, CSS and script, no
 * build step, nothing loaded from elsewhere), served by the control API at
 * `/`. It logs in by exchanging the one-time code from `kith dashboard` (in
 * the URL fragment, which never reaches a server log) for an HttpOnly,
 * SameSite=Strict session cookie, then polls status, peers, trust and topics
 * every two seconds and follows messages over Server-Sent Events. Every value that
 * comes from peers is rendered as text (`textContent`), never as HTML.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * What both pages' scripts start with: element helpers (text only, never HTML), trust's colour, and the login
 * that trades the one-time code in the URL fragment for the session cookie and drops it from the address bar.
 */
const PAGE_PRELUDE = `const $ = (id) => document.getElementById(id);
const el = (tag, text, attrs) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
};
const svg = (tag, attrs) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
};
const trustColour = (t) => "hsl(" + Math.round(120 * t) + ", 70%, 38%)";

async function login(onRejected) {
  const match = /code=([0-9a-f]+)/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname);
  const response = await fetch("/v1/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: match[1] }) });
  if (!response.ok) onRejected();
}
`;

/** The base style of both pages. */
const PAGE_CSS = `  :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
  body { margin: 0; padding: 1rem; }`;

/** The dashboard's script, inline in the page and allowed by hash in its Content-Security-Policy. */
export const DASHBOARD_SCRIPT: string = `"use strict";
${PAGE_PRELUDE}const short = (id) => String(id).slice(0, 12);
const notice = (text) => { $("notice").textContent = text; $("notice").hidden = !text; };
let sortKey = "trust", sortDown = true, last = null, lastAt = 0, selfId = "";

async function api(path, init) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, init || {}));
  if (response.status === 401) { notice("Not logged in: run 'kith dashboard' and open the address it prints."); throw new Error("401"); }
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function fill(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
}

function renderStatus(s) {
  $("node-id").textContent = short(s.nodeId);
  fill($("node"), [["id", s.nodeId], ["address", s.address], ["version", s.version + " (protocol " + s.protocol + ")"],
    ["profile", s.profile], ["uptime", Math.round(s.uptimeMs / 1000) + " s"],
    ["peers", s.peers.active + " active, " + s.peers.connecting + " connecting, " + s.peers.known + " known"],
    ...(s.stats.nat ? [["reachability", s.stats.nat.reachability + (s.stats.nat.checkedAddress ? " at " + s.stats.nat.checkedAddress : "")],
      ["observed", s.stats.nat.observedAddress || "-"], ["advertised", s.stats.nat.advertisedAddress || "none"]] : [])]);
  const g = s.stats.gossip, t = s.stats.transport, now = Date.now();
  if (last) {
    const dt = Math.max(0.001, (now - lastAt) / 1000);
    const rate = (a, b) => ((a - b) / dt).toFixed(1);
    fill($("traffic"), [["received", rate(g.delivered + g.duplicates, last.g.delivered + last.g.duplicates)],
      ["delivered", rate(g.delivered, last.g.delivered)], ["forwarded", rate(g.forwarded, last.g.forwarded)],
      ["duplicate", rate(g.duplicates, last.g.duplicates)], ["invalid", rate(g.invalid, last.g.invalid)],
      ["bytes in", rate(t.bytesIn, last.t.bytesIn)], ["bytes out", rate(t.bytesOut, last.t.bytesOut)]]);
  }
  last = { g, t }; lastAt = now;
  const c = s.stats.catchup;
  fill($("catchup"), [["sessions", (c.sessionsStarted + c.sessionsAnswered) + " (" + c.sessionsCompleted + " completed)"],
    ["fetched", c.fetched], ["refused", c.refused], ["served", c.served],
    ["bytes", ((c.reconcileBytesSent + c.reconcileBytesReceived) / 1024).toFixed(1) + " KiB reconciling, " +
      ((c.bodyBytesSent + c.bodyBytesReceived) / 1024).toFixed(1) + " KiB of bodies"]]);
}

const columns = [["nodeId", "Peer"], ["address", "Address"], ["state", "State"], ["direction", "Direction"], ["linkKind", "Link"],
  ["trust", "Trust"], ["reputation", "Reputation"], ["lastSeen", "Last seen"], ["rttMs", "RTT ms"], ["messages", "Messages"],
  ["history", "Trust history"]];

// Trust before the oldest listed event, then after each event, oldest first; the events themselves as text
// beside it (the latest three), so the reasons are readable without hovering.
function sparkline(events) {
  const list = (events || []).slice().reverse();
  const values = list.length ? [list[0].trustAfter - list[0].trustDelta, ...list.map((e) => e.trustAfter)] : [];
  const describe = (e) => e.eventType + (e.count > 1 ? " x" + e.count : "") + " " + (e.trustDelta >= 0 ? "+" : "") + e.trustDelta.toFixed(3);
  const recent = (events || []).slice(0, 3).map(describe).join(", ");
  const box = svg("svg", { width: 80, height: 18, role: "img", "aria-label": "trust over its latest events: " + (recent || "none yet") });
  if (values.length > 1) {
    const points = values.map((v, i) => (i * 80 / (values.length - 1)).toFixed(1) + "," + (17 - v * 16).toFixed(1)).join(" ");
    box.append(svg("polyline", { points, fill: "none", stroke: "#0969da", "stroke-width": 1.5 }));
  }
  const title = svg("title"); title.textContent = (events || []).slice(0, 10).map(describe).join(", "); box.append(title);
  const wrap = el("span"); wrap.append(box, el("small", " " + recent, { class: "note" }));
  return wrap;
}

function renderPeers(peers, trust) {
  const byId = new Map(trust.map((t) => [t.nodeId, t]));
  $("peer-head").replaceChildren(...columns.map(([key, label]) => {
    const th = el("th", undefined, { scope: "col", "aria-sort": key === sortKey ? (sortDown ? "descending" : "ascending") : "none" });
    if (key === "history") { th.textContent = label; return th; }
    const button = el("button", label + (key === sortKey ? (sortDown ? " ▼" : " ▲") : ""), { type: "button" });
    button.onclick = () => { sortDown = key === sortKey ? !sortDown : true; sortKey = key; renderPeers(peers, trust); };
    th.append(button);
    return th;
  }));
  const sorted = [...peers].sort((a, b) => {
    const x = a[sortKey] ?? "", y = b[sortKey] ?? "";
    return (x < y ? -1 : x > y ? 1 : 0) * (sortDown ? -1 : 1);
  });
  $("peers").replaceChildren(...sorted.map((p) => {
    const row = el("tr");
    row.append(el("td", short(p.nodeId), { class: "mono", title: p.nodeId }), el("td", p.address || "-"), el("td", p.state),
      el("td", p.direction || "-"), el("td", p.linkKind || "-"), el("td", p.trust.toFixed(3)), el("td", p.reputation.toFixed(3)),
      el("td", p.lastSeen ? new Date(p.lastSeen).toLocaleTimeString() : "-"), el("td", p.rttMs ?? "-"), el("td", p.messages ?? "-"));
    const cell = el("td"); cell.append(sparkline((byId.get(p.nodeId) || {}).events)); row.append(cell);
    return row;
  }));
  renderTopology(peers, selfId);
}

// Active peers on an inner ring (edge colour, width and label give trust); the peers they announced, when
// not peers of ours, on an outer ring joined by dashed grey lines, because those links are claimed, not measured.
function renderTopology(peers, self) {
  const active = peers.filter((p) => p.state === "active");
  const place = new Map();
  active.forEach((p, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, active.length);
    place.set(p.nodeId, { x: 80 * Math.cos(a), y: 80 * Math.sin(a), a });
  });
  const outer = [], seen = new Set();
  for (const p of active) {
    for (const id of p.announced || []) {
      if (id === self || place.has(id) || seen.has(id) || outer.length >= 24) continue;
      seen.add(id); outer.push({ id, from: p.nodeId });
    }
  }
  outer.forEach((o, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, outer.length) + Math.PI / Math.max(2, outer.length);
    place.set(o.id, { x: 135 * Math.cos(a), y: 135 * Math.sin(a), a });
  });
  const items = [];
  const claimed = (from, to) => {
    const f = place.get(from), t = place.get(to);
    items.push(svg("line", { x1: f.x, y1: f.y, x2: t.x, y2: t.y, stroke: "#8c959f", "stroke-width": 1, "stroke-dasharray": "3 3" }));
  };
  const drawn = new Set();
  for (const p of active) {
    for (const id of p.announced || []) {
      const key = id < p.nodeId ? id + p.nodeId : p.nodeId + id;
      if (!place.has(id) || drawn.has(key)) continue;
      drawn.add(key); claimed(p.nodeId, id);
    }
  }
  for (const p of active) {
    const { x, y } = place.get(p.nodeId);
    items.push(svg("line", { x1: 0, y1: 0, x2: x, y2: y, stroke: trustColour(p.trust), "stroke-width": 1 + 3 * p.trust }));
  }
  items.push(svg("circle", { r: 10, fill: "#1b1f24" }));
  for (const o of outer) {
    const { x, y } = place.get(o.id);
    const dot = svg("circle", { cx: x, cy: y, r: 5, fill: "#ffffff", stroke: "#57606a", "stroke-width": 1.5 });
    const title = svg("title"); title.textContent = o.id + " (announced by " + short(o.from) + ", not connected to this node)"; dot.append(title);
    items.push(dot);
  }
  for (const p of active) {
    const { x, y, a } = place.get(p.nodeId);
    const dot = svg("circle", { cx: x, cy: y, r: 7, fill: trustColour(p.trust) });
    const title = svg("title"); title.textContent = p.nodeId + " trust " + p.trust.toFixed(3); dot.append(title);
    const left = Math.cos(a) < -0.2;
    const label = svg("text", { x: x + (left ? -9 : 9), y: y + 4, "font-size": 9, "text-anchor": left ? "end" : "start" });
    label.textContent = short(p.nodeId).slice(0, 6) + " " + p.trust.toFixed(2);
    items.push(dot, label);
  }
  $("topology").replaceChildren(...items);
  $("topology-note").textContent = active.length + " connected peers (solid lines; colour, width and label show trust), " +
    outer.length + " more nodes they announced (hollow, dashed lines: claimed by them, not measured here)";
}

// The topics this node is in (names are chosen by applications and peers: text only, like everything else).
function renderTopics(body) {
  const rows = body.topics.map((t) => {
    const row = el("tr");
    const log = t.log ?? { count: 0, bytes: 0 };
    row.append(el("td", t.topic, { class: "topic" }), el("td", t.subscribed ? "subscribed" : "relayed"), el("td", t.peers),
      el("td", t.eager), el("td", t.delivered), el("td", log.count + " (" + (log.bytes / 1024).toFixed(1) + " KiB)"));
    return row;
  });
  $("topics").replaceChildren(...rows);
  $("topics-note").textContent = rows.length ? "" : "In no topic besides the network-wide one, which every node is in.";
}

// The DHT's routing table: contacts by bucket (the bits their id shares with this node's), closest buckets last.
function renderDht(body) {
  if (!body) {
    $("dht").replaceChildren();
    $("dht-note").textContent = "The DHT is off on this node.";
    return;
  }
  const rows = body.table.map((c) => {
    const row = el("tr");
    row.append(el("td", c.bucket), el("td", c.nodeId.slice(0, 16), { class: "mono" }), el("td", c.address, { class: "mono" }),
      el("td", Math.max(0, Math.round((Date.now() - c.lastSeen) / 1000)) + " s"));
    return row;
  });
  $("dht").replaceChildren(...rows);
  const s = body.stats;
  $("dht-note").textContent = s.tableSize + " contacts; " + s.lookups + " lookups, mean hops " +
    (s.lookupsAnswered ? (s.hops / s.lookupsAnswered).toFixed(2) : "-") + "; " + s.store.records + " records and " +
    s.store.providers + " provider records kept; " + s.transient.open + " transient links open";
}

async function refresh() {
  try {
    const [status, peers, trust, topics, dht] = await Promise.all([api("/v1/status"), api("/v1/peers"), api("/v1/trust"),
      api("/v1/topics"), api("/v1/dht").catch(() => undefined)]);
    notice("");
    selfId = status.nodeId;
    renderStatus(status);
    renderPeers(peers, trust);
    renderTopics(topics);
    renderDht(dht);
  } catch (error) { if (String(error) !== "Error: 401") notice(String(error)); }
}

function follow() {
  const source = new EventSource("/v1/subscribe");
  source.addEventListener("message", (event) => {
    const m = JSON.parse(event.data);
    const item = el("li");
    item.append(el("span", new Date(m.timestamp).toLocaleTimeString() + " "), el("strong", "[" + (m.topic || "-") + "] "),
      el("span", short(m.origin) + ": ", { class: "mono" }), el("span", m.data !== undefined ? m.data : "(binary) " + m.dataBase64));
    $("feed").prepend(item);
    while ($("feed").children.length > 200) $("feed").lastChild.remove();
  });
}

$("publish").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/v1/publish", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic: $("topic").value, data: $("text").value }) });
    $("text").value = "";
  } catch (error) { notice("Publishing failed: " + error); }
});

login(() => notice("That login code is used or expired: run 'kith dashboard' again."))
  .then(() => { refresh(); follow(); setInterval(refresh, 2000); });
`;

/** SHA-256 of the script, base64, for the Content-Security-Policy. */
export const DASHBOARD_SCRIPT_HASH: string = createHash("sha256").update(DASHBOARD_SCRIPT).digest("base64");

/** The dashboard page. */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kith node</title>
<style>
${PAGE_CSS}
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
  .grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
  section { background: white; border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem; overflow: auto; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; margin: 0; }
  dt { color: #57606a; } dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-all; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
  th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; }
  th button:focus-visible, button:focus-visible, input:focus-visible { outline: 2px solid #0969da; }
  .mono { font-family: ui-monospace, monospace; }
  td.topic { white-space: normal; word-break: break-all; }
  .note { color: #57606a; font-size: .85rem; margin: .25rem 0 0; }
  #topology { max-width: 100%; height: auto; }
  #feed { list-style: none; padding: 0; margin: 0; max-height: 18rem; overflow: auto; font-size: .9rem; }
  #feed li { padding: .25rem 0; border-bottom: 1px solid #eaeef2; }
  form { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; }
  input { padding: .3rem; border: 1px solid #8c959f; border-radius: 4px; }
  #notice { padding: .5rem; background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; margin-bottom: 1rem; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<h1>kith node <span id="node-id" class="mono"></span></h1>
<p id="notice" role="status" hidden></p>
<div class="grid">
  <section aria-labelledby="h-node"><h2 id="h-node">Node</h2><dl id="node"></dl></section>
  <section aria-labelledby="h-traffic"><h2 id="h-traffic">Traffic (per second)</h2><dl id="traffic"></dl></section>
  <section aria-labelledby="h-catchup"><h2 id="h-catchup">Catch-up</h2><dl id="catchup"></dl></section>
  <section aria-labelledby="h-topology"><h2 id="h-topology">Topology</h2>
    <svg id="topology" width="300" height="300" viewBox="-150 -150 300 300" role="img" aria-label="This node, its peers and the nodes they announced" aria-describedby="topology-note"></svg>
    <p id="topology-note" class="note"></p>
  </section>
</div>
<section aria-labelledby="h-peers" style="margin-top:1rem"><h2 id="h-peers">Peers</h2>
  <table><thead><tr id="peer-head"></tr></thead><tbody id="peers"></tbody></table>
</section>
<div class="grid" style="margin-top:1rem">
  <section aria-labelledby="h-feed"><h2 id="h-feed">Messages</h2><ul id="feed" aria-live="polite"></ul>
    <form id="publish">
      <label>Topic <input id="topic" name="topic" value="" placeholder="network-wide" size="10"></label>
      <label>Message <input id="text" name="text" required size="24"></label>
      <button type="submit">Publish</button>
    </form>
  </section>
  <section aria-labelledby="h-topics"><h2 id="h-topics">Topics</h2>
    <table><thead><tr><th scope="col">Topic</th><th scope="col">In</th><th scope="col">Peers</th><th scope="col">Eager</th><th scope="col">Delivered</th><th scope="col">Log</th></tr></thead>
    <tbody id="topics"></tbody></table>
    <p id="topics-note" class="note"></p>
  </section>
  <section aria-labelledby="h-dht"><h2 id="h-dht">DHT routing table</h2>
    <table><thead><tr><th scope="col">Bucket</th><th scope="col">Node</th><th scope="col">Address</th><th scope="col">Seen</th></tr></thead>
    <tbody id="dht"></tbody></table>
    <p id="dht-note" class="note"></p>
  </section>
</div>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

/** The devnet page's script: every node and link, and a broadcast spreading node by node with its delivery times. */
export const DEVNET_SCRIPT: string = `"use strict";
${PAGE_PRELUDE}let state = { nodes: [] }, current = null, origin = -1;
const reached = new Map();

function position(i, n) {
  const a = (2 * Math.PI * i) / Math.max(1, n) - Math.PI / 2;
  return [170 * Math.cos(a), 170 * Math.sin(a)];
}

function draw() {
  const n = state.nodes.length, items = [];
  for (const node of state.nodes) {
    const [x1, y1] = position(node.index, n);
    for (const link of node.links) {
      if (link.to < node.index) continue;
      const [x2, y2] = position(link.to, n);
      items.push(svg("line", { x1, y1, x2, y2, stroke: trustColour(link.trust), "stroke-width": 1.5, opacity: 0.7 }));
    }
  }
  // The hop that first brought the message to each node: a thick line from the relaying node.
  for (const [index, got] of reached) {
    if (got.from < 0 || got.from >= n) continue;
    const [x1, y1] = position(got.from, n), [x2, y2] = position(index, n);
    items.push(svg("line", { x1, y1, x2, y2, stroke: "#1a7f37", "stroke-width": 4 }));
  }
  for (const node of state.nodes) {
    const [x, y] = position(node.index, n);
    const got = reached.get(node.index);
    const fill = node.index === origin ? "#0969da" : got !== undefined ? "#1a7f37" : "#8c959f";
    const dot = svg("circle", { cx: x, cy: y, r: 12, fill });
    const title = svg("title");
    title.textContent = "node " + node.index + " " + node.nodeId + " at " + node.address + ": " + node.links.length + " peers, " + node.delivered + " delivered";
    dot.append(title);
    const left = x < -1;
    const label = svg("text", { x: x + (left ? -15 : 15), y: y + 4, "font-size": 11, "text-anchor": left ? "end" : "start" });
    label.textContent = "#" + node.index + (node.index === origin ? " origin" : got !== undefined
      ? " +" + got.ms + " ms, hop " + hops(node.index) + (got.from >= 0 ? " via #" + got.from : "") : "");
    items.push(dot, label);
  }
  $("net").replaceChildren(...items);
  const total = Math.max(0, n - 1), done = [...reached.keys()].filter((i) => i !== origin).length;
  $("progress").textContent = current ? "message " + current.slice(0, 12) + ": " + done + " of " + total + " nodes reached" : "no broadcast yet";
}

// Hops from the origin along the first-delivery path (bounded by the node count, so a bad path cannot loop).
function hops(index) {
  let count = 0;
  while (index !== origin && reached.has(index) && count <= state.nodes.length) { index = reached.get(index).from; count++; }
  return count;
}

async function refresh() {
  const response = await fetch("/v1/devnet", { credentials: "same-origin" });
  if (response.status === 401) { $("progress").textContent = "Not logged in: use the address kith devnet printed."; return; }
  state = await response.json();
  draw();
}

$("broadcast").addEventListener("click", async () => {
  const response = await fetch("/v1/devnet/broadcast", { method: "POST", credentials: "same-origin" });
  const sent = await response.json();
  // Deliveries may arrive (over the event stream) before this answer: keep them.
  if (current !== sent.id) { current = sent.id; reached.clear(); }
  origin = sent.origin; draw();
});

// Opened once logged in: opened before, it could reach the server ahead of the session cookie, get 401, and an
// EventSource does not retry after an error status, so the page never showed a delivery.
function follow() {
  const events = new EventSource("/v1/devnet/events");
  events.addEventListener("delivery", (event) => {
    const d = JSON.parse(event.data);
    if (d.id !== current) { current = d.id; origin = d.origin; reached.clear(); }
    if (!reached.has(d.node)) reached.set(d.node, { ms: d.ms, from: d.from });
    draw();
  });
}

login(() => { $("progress").textContent = "That login code is used or expired: restart kith devnet for a new one."; })
  .then(() => { refresh(); follow(); setInterval(refresh, 2000); });
`;

/** SHA-256 of the devnet script, base64, for its Content-Security-Policy. */
export const DEVNET_SCRIPT_HASH: string = createHash("sha256").update(DEVNET_SCRIPT).digest("base64");

/** The devnet page served by `kith devnet --api`. */
export const DEVNET_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kith devnet</title>
<style>
${PAGE_CSS}
  section { background: white; border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem; max-width: 680px; }
  #net { max-width: 100%; height: auto; }
  button { font: inherit; padding: .3rem .7rem; }
  button:focus-visible { outline: 2px solid #0969da; }
  p { margin: .5rem 0; }
</style>
</head>
<body>
<h1>kith devnet</h1>
<section>
  <button id="broadcast" type="button">Broadcast from a random node</button>
  <p id="progress" role="status" aria-live="polite"></p>
  <svg id="net" width="640" height="440" viewBox="-320 -220 640 440" role="img"
    aria-label="Every devnet node and link; the origin is blue, reached nodes are green with their delivery time"></svg>
  <p>Blue: origin. Green: reached, labelled with the time from publishing to delivery, its hop count and the node that
  relayed it (the thick line). Grey: not yet. Links are coloured by trust.</p>
</section>
<script>${DEVNET_SCRIPT}</script>
</body>
</html>
`;
