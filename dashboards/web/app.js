// firn dashboard: plain JS, no build step, no network beyond the collector's own API.
// Every panel is one API call (one SQL query over the Parquet files); all refresh every
// refresh_seconds, so files written meanwhile show up.
"use strict";

const SEVERITIES = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const COLORS = { TRACE: "#b8c0cc", DEBUG: "#8a94a6", INFO: "#3b82f6", WARN: "#f5a524", ERROR: "#e5484d", FATAL: "#7a1020" };
const state = { page: 0, filters: {}, refresh: 10, timer: null };

const $ = (sel, root) => (root || document).querySelector(sel);

function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function bytes(n) {
  if (n == null) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + u[i];
}

function num(n, digits) {
  if (n == null) return "";
  return Number.isInteger(n) ? String(n) : n.toFixed(digits == null ? 2 : digits);
}

function rangeParams() {
  const p = new URLSearchParams();
  const r = $("#range").value;
  if (r) {
    const from = new Date(Date.now() - Number(r) * 1000);
    p.set("from", from.toISOString().slice(0, 19));
  }
  return p;
}

async function api(path, params) {
  const url = path + (params && params.toString() ? "?" + params.toString() : "");
  const r = await fetch(url, { credentials: "same-origin" });
  const body = await r.json();
  if (!r.ok) throw new Error(path + ": " + (body.error || r.status));
  return body;
}

function rows(tbody, html) {
  tbody.innerHTML = html.join("") || '<tr><td colspan="9" class="muted">nothing yet</td></tr>';
}

async function loadServices() {
  const data = await api("/api/summary", rangeParams());
  rows($("#services tbody"), data.map(r => `<tr data-container="${esc(r.container)}">
    <td>${esc(r.service)}</td><td>${esc(r.container)}</td>
    <td class="num log-lines">${r.log_lines}</td><td class="num errors">${r.errors}</td>
    <td class="num points">${r.metric_points}</td><td>${esc(r.first_seen)}</td><td>${esc(r.last_seen)}</td></tr>`));
}

// A bar chart of `buckets` (sorted times), each a list of [label, value, color] stacked.
function barChart(el, buckets, maxValue, format) {
  const W = 600, H = 160, pad = 24;
  const n = buckets.length || 1;
  const bw = Math.max(2, (W - pad) / n - 2);
  let svg = `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img">`;
  buckets.forEach((b, i) => {
    let y = H - pad;
    for (const [label, value, color] of b.parts) {
      const h = maxValue > 0 ? (value / maxValue) * (H - pad - 4) : 0;
      y -= h;
      svg += `<rect x="${pad + i * (bw + 2)}" y="${y}" width="${bw}" height="${h}" fill="${color}"><title>${esc(b.t)} ${esc(label)}: ${esc(format(value))}</title></rect>`;
    }
  });
  svg += `<text x="0" y="12" font-size="11">${esc(format(maxValue))}</text>`;
  if (buckets.length) {
    svg += `<text x="${pad}" y="${H - 6}" font-size="11">${esc(buckets[0].t)}</text>`;
    svg += `<text x="${W}" y="${H - 6}" font-size="11" text-anchor="end">${esc(buckets[buckets.length - 1].t)}</text>`;
  }
  el.innerHTML = svg + "</svg>";
}

async function loadVolume() {
  const p = rangeParams();
  p.set("bucket", $("#bucket").value);
  const data = await api("/api/volume", p);
  const byT = new Map();
  for (const r of data) {
    if (!byT.has(r.t)) byT.set(r.t, {});
    byT.get(r.t)[r.severity] = r.n;
  }
  const buckets = [...byT.entries()].map(([t, counts]) => ({
    t, parts: SEVERITIES.filter(s => counts[s]).map(s => [s, counts[s], COLORS[s]]),
  }));
  const max = Math.max(0, ...buckets.map(b => b.parts.reduce((a, p) => a + p[1], 0)));
  barChart($("#volume .chart"), buckets, max, v => String(Math.round(v)));
  rows($("#volume tbody"), data.map(r => `<tr><td>${esc(r.t)}</td><td>${esc(r.severity)}</td><td class="num">${r.n}</td></tr>`));
}

async function loadErrors() {
  const p = rangeParams();
  p.set("bucket", $("#bucket").value);
  const data = await api("/api/errors", p);
  const buckets = data.map(r => ({ t: r.t, parts: [["error rate", r.rate, COLORS.ERROR]] }));
  barChart($("#errors .chart"), buckets, Math.max(0, ...data.map(r => r.rate)), v => (100 * v).toFixed(1) + "%");
  rows($("#errors tbody"), data.map(r => `<tr><td>${esc(r.t)}</td><td class="num">${r.lines}</td><td class="num">${r.errors}</td><td class="num rate">${(100 * r.rate).toFixed(1)}%</td></tr>`));
}

function gauge(used, limit, text) {
  if (used == null) return "";
  const pct = limit ? Math.min(100, (100 * used) / limit) : 0;
  const hot = pct >= 90 ? " hot" : "";
  const bar = limit ? `<span class="bar${hot}"><span style="width:${pct.toFixed(1)}%"></span></span>` : "";
  return `${bar}${esc(text)}${limit ? ` (${pct.toFixed(1)}%)` : ""}`;
}

async function loadLatest() {
  const data = await api("/api/latest", rangeParams());
  const by = new Map();
  const key = r => (r.service || "") + "/" + (r.container || "");
  for (const r of data) {
    if (!by.has(key(r))) by.set(key(r), { service: r.service, container: r.container, m: {}, rows: [] });
    const c = by.get(key(r));
    c.rows.push(r);
    const prev = c.m[r.name];
    if (!prev || prev.ts < r.ts) c.m[r.name] = r;
  }
  const cs = [...by.values()];
  const v = (c, name) => (c.m[name] ? c.m[name].value : null);
  rows($("#resources tbody"), cs.filter(c => v(c, "container.cpu.usage") != null || v(c, "container.memory.usage") != null).map(c => {
    const cpu = v(c, "container.cpu.usage"), cpuL = v(c, "container.cpu.limit");
    const mem = v(c, "container.memory.usage"), memL = v(c, "container.memory.limit");
    return `<tr data-container="${esc(c.container)}"><td>${esc(c.container)}</td>
      <td class="cpu">${gauge(cpu, cpuL, num(cpu) + (cpuL != null ? " / " + num(cpuL) : ""))}</td>
      <td class="memory">${gauge(mem, memL, bytes(mem) + (memL != null ? " / " + bytes(memL) : ""))}</td></tr>`;
  }));
  rows($("#restarts tbody"), cs.filter(c => c.rows.some(r => r.name.startsWith("container.restarts") || r.name.startsWith("container.state."))).map(c => {
    const reasons = c.rows.filter(r => r.name === "container.state.last.finished.reason" && r.value === 1)
      .sort((a, b) => (a.ts < b.ts ? 1 : -1));
    let reason = "";
    if (reasons.length) { try { reason = JSON.parse(reasons[0].attributes || "{}").reason || ""; } catch (e) { reason = ""; } }
    return `<tr data-container="${esc(c.container)}"><td>${esc(c.container)}</td><td class="num restarts">${num(v(c, "container.restarts"), 0)}</td>
      <td class="reason">${esc(reason)}</td><td class="num exitcode">${num(v(c, "container.state.last.finished.exitcode"), 0)}</td></tr>`;
  }));
  rows($("#network tbody"), cs.filter(c => c.rows.some(r => r.name.startsWith("network."))).map(c => {
    const conns = c.rows.filter(r => r.name === "network.ingress.connections.active").reduce((a, r) => a + r.value, 0);
    return `<tr data-container="${esc(c.container)}"><td>${esc(c.container)}</td><td class="received">${bytes(v(c, "network.egress.received.bytes"))}</td>
      <td class="transmitted">${bytes(v(c, "network.egress.transmitted.bytes"))}</td><td class="num">${num(v(c, "network.egress.denied.packets"), 0)}</td><td class="num">${num(conns, 0)}</td></tr>`;
  }));
  const vols = [];
  for (const c of cs) {
    const per = new Map();
    for (const r of c.rows.filter(r => r.name.startsWith("volume."))) {
      let name = "";
      try { name = JSON.parse(r.attributes || "{}").volume || ""; } catch (e) { name = ""; }
      if (!per.has(name)) per.set(name, {});
      per.get(name)[r.name] = r.value;
    }
    for (const [name, m] of per) vols.push({ c, name, m });
  }
  rows($("#storage tbody"), vols.map(x => `<tr data-container="${esc(x.c.container)}"><td>${esc(x.c.container)}</td><td>${esc(x.name)}</td>
    <td class="used">${gauge(x.m["volume.usage"], x.m["volume.capacity"], bytes(x.m["volume.usage"]))}</td><td class="capacity">${bytes(x.m["volume.capacity"])}</td></tr>`));
}

async function loadLogs() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) p.set(k, v);
  if (!state.filters.from && $("#range").value) p.set("from", rangeParams().get("from"));
  p.set("page", state.page);
  const data = await api("/api/logs", p);
  rows($("#results tbody"), data.rows.map(r => `<tr class="sev-${esc(r.severity)}" data-ts="${esc(r.ts)}">
    <td>${esc(r.ts)}</td><td>${esc(r.severity)}</td><td>${esc(r.container)}</td><td>${esc(r.stream)}</td>
    <td class="msg">${esc(r.message)}</td>
    <td><a href="#" class="around" data-ts="${esc(r.ts)}" data-container="${esc(r.container)}" title="lines a minute either side">around</a></td></tr>`));
  $("#page").textContent = `page ${state.page + 1}`;
  $("#prev").disabled = state.page === 0;
  $("#next").disabled = !data.more;
}

function isoShift(ts, seconds) {
  const d = new Date(ts.replace(" ", "T") + (ts.endsWith("Z") ? "" : "Z"));
  return new Date(d.getTime() + seconds * 1000).toISOString().slice(0, 19);
}

async function refresh() {
  const jobs = [loadServices(), loadVolume(), loadErrors(), loadLatest(), loadLogs()];
  const results = await Promise.allSettled(jobs);
  const failed = results.filter(r => r.status === "rejected").map(r => r.reason.message);
  $("#status").textContent = failed.join("; ");
  $("#updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

function readFilters() {
  const f = {};
  for (const el of $("#filters").elements) if (el.name) f[el.name] = el.value.trim();
  return f;
}

async function init() {
  const cfg = await api("/api/config");
  state.refresh = cfg.refresh_seconds || 10;
  $("#source").textContent = `${cfg.data} (${cfg.files} files, ${bytes(cfg.bytes)})`;
  $("#filters").addEventListener("submit", e => {
    e.preventDefault();
    state.filters = readFilters();
    state.page = 0;
    loadLogs().catch(err => { $("#status").textContent = err.message; });
  });
  $("#prev").addEventListener("click", () => { if (state.page > 0) { state.page--; loadLogs(); } });
  $("#next").addEventListener("click", () => { state.page++; loadLogs(); });
  $("#results").addEventListener("click", e => {
    const a = e.target.closest("a.around");
    if (!a) return;
    e.preventDefault();
    const f = $("#filters").elements;
    f.from.value = isoShift(a.dataset.ts, -60);
    f.to.value = isoShift(a.dataset.ts, 61);
    f.container.value = a.dataset.container;
    f.q.value = "";
    f.severity.value = "";
    state.filters = readFilters();
    state.page = 0;
    loadLogs();
  });
  for (const id of ["#range", "#bucket"]) $(id).addEventListener("change", refresh);
  await refresh();
  state.timer = setInterval(refresh, state.refresh * 1000);
}

init().catch(err => { $("#status").textContent = err.message; });
