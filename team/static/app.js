// The retention team's dashboard: plain JS, no build step. Data from the JSON API,
// live updates from server-sent events (/api/stream). Actions carry the CSRF header.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { me: null, cursor: null, events: null };

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)churn_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf();
  const resp = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (resp.status === 401) { showSignIn(); throw new Error("signed out"); }
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new Error(typeof body.detail === "string" ? body.detail : `HTTP ${resp.status}`);
  }
  return resp.status === 204 ? null : resp.json();
}

function showSignIn() {
  $("#sign-in").classList.remove("hidden");
  $("#main").classList.add("hidden");
  $("#sign-out").classList.add("hidden");
  if (state.events) { state.events.close(); state.events = null; }
}

async function signIn(ev) {
  ev.preventDefault();
  $("#sign-in-error").textContent = "";
  const resp = await fetch("/api/session", { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify({ token: $("#token").value }) });
  if (!resp.ok) { $("#sign-in-error").textContent = "That token is not valid."; return; }
  $("#token").value = "";
  await start();
}

async function signOut() {
  await fetch("/api/session", { method: "DELETE", headers: { "X-CSRF-Token": csrf() } });
  showSignIn();
}

function text(el, value) { el.textContent = value == null ? "" : String(value); }

function renderAlert(a) {
  const node = $("#alert-template").content.firstElementChild.cloneNode(true);
  node.id = `alert-${a.alert_id}`;
  node.dataset.alertId = a.alert_id;
  node.classList.add(`t-${a.tier}`);
  text($(".tier", node), a.tier);
  text($(".customer", node), a.customer_id);
  text($(".score", node), `score ${a.score.toFixed(2)} (was ${a.previous_tier})`);
  const status = $(".status", node);
  text(status, a.status);
  status.classList.add(`s-${a.status}`);
  text($(".owner", node), a.owner ? `owner ${a.owner}` : "unassigned");
  text($(".when", node), new Date(a.created_at).toLocaleString());
  for (const r of a.reasons) { const li = document.createElement("li"); text(li, r.text); $(".reasons", node).append(li); }
  text($(".offer-note", node), a.offer_note || "");
  for (const o of a.offers) $(".offers", node).append(renderOffer(o));
  for (const t of a.actions) {
    const li = document.createElement("li");
    const extra = t.detail.owner ? ` → ${t.detail.owner}` : t.detail.until ? ` until ${t.detail.until.slice(0, 10)}` : "";
    const note = t.detail.note ? `: ${t.detail.note}` : "";
    text(li, `${new Date(t.at).toLocaleString()} ${t.actor} ${t.action}${extra}${note}`);
    $(".trail", node).append(li);
  }
  const acts = $(".actions", node);
  if (state.me.role !== "agent" || a.status === "resolved") acts.remove();
  else acts.addEventListener("click", (ev) => act(ev, a.alert_id, node));
  return node;
}

function renderOffer(o) {
  const li = document.createElement("li");
  li.dataset.offerId = o.offer_id;
  text(li, `offer ${o.offer_type} via ${o.channel} (${o.value}) · ${o.status.replace("_", " ")}` +
           (o.decided_by ? ` by ${o.decided_by}` : "") + (o.outcome ? ` · ${o.outcome}` : ""));
  if (o.status === "pending_approval" && state.me.role === "agent") {
    for (const [label, verb] of [["Approve", "approve"], ["Reject", "reject"]]) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.decide = verb; text(b, label);
      b.addEventListener("click", () => decide(o.offer_id, verb));
      li.append(" ", b);
    }
  }
  return li;
}

async function act(ev, alertId, node) {
  const verb = ev.target.dataset && ev.target.dataset.act;
  if (!verb) return;
  let body = {};
  if (verb === "assign") body = { owner: $(".owner-input", node).value.trim() };
  if (verb === "snooze") {
    const day = $(".until-input", node).value;
    if (!day) { alert("Pick a date to snooze until."); return; }
    body = { until: new Date(`${day}T00:00:00`).toISOString() };
  }
  if (verb === "resolve") body = { note: $(".note-input", node).value.trim() };
  try {
    upsert(await api(`/api/alerts/${encodeURIComponent(alertId)}/${verb}`, { method: "POST", body: JSON.stringify(body) }));
  } catch (e) { alert(`${verb} failed: ${e.message}`); }
}

async function decide(offerId, verb) {
  try { await api(`/api/offers/${encodeURIComponent(offerId)}/${verb}`, { method: "POST", body: "{}" }); }
  catch (e) { alert(`${verb} failed: ${e.message}`); }
}

function matchesFilters(a) {
  const tier = $("#f-tier").value, status = $("#f-status").value;
  return (!tier || a.tier === tier) && (!status || a.status === status);
}

function upsert(a, fresh = false) {
  const old = document.getElementById(`alert-${a.alert_id}`);
  if (!matchesFilters(a)) { if (old) old.remove(); return; }
  const node = renderAlert(a);
  if (old) old.replaceWith(node);
  else if ($("#f-sort").value === "newest") $("#alerts").prepend(node);
  else insertByRisk(node, a.score);
  if (fresh && !old) node.classList.add("fresh");
}

function insertByRisk(node, score) {
  for (const el of $("#alerts").children) {
    if (parseFloat($(".score", el).textContent.split(" ")[1]) < score) { el.before(node); return; }
  }
  $("#alerts").append(node);
}

async function loadAlerts(more = false) {
  const q = new URLSearchParams({ sort: $("#f-sort").value, limit: "50" });
  if ($("#f-tier").value) q.set("tier", $("#f-tier").value);
  if ($("#f-status").value) q.set("status", $("#f-status").value);
  if (more && state.cursor) q.set("cursor", state.cursor);
  const pageData = await api(`/api/alerts?${q}`);
  if (!more) $("#alerts").replaceChildren();
  for (const a of pageData.items) $("#alerts").append(renderAlert(a));
  state.cursor = pageData.next_cursor;
  $("#more").classList.toggle("hidden", !state.cursor);
}

function chips(el, counts) {
  el.replaceChildren(...Object.entries(counts).sort((x, y) => y[1] - x[1]).map(([k, v]) => {
    const s = document.createElement("span"); text(s, `${k} ${v}`); return s;
  }));
}

const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(1)}%`);

async function loadOverview() {
  const o = await api("/api/overview");
  text($("#ov-alerts"), o.alerts); text($("#ov-open"), o.open_alerts);
  text($("#ov-sent"), o.offers_sent); text($("#ov-pending"), o.offers_pending);
  text($("#ov-control"), pct(o.control_share));
  text($("#ov-uplift"), o.uplift.uplift == null ? "–" : `${(100 * o.uplift.uplift).toFixed(1)} pt`);
  chips($("#ov-tiers"), o.by_tier); chips($("#ov-drivers"), o.by_driver);
}

let overviewTimer = null;
function overviewSoon() { clearTimeout(overviewTimer); overviewTimer = setTimeout(() => loadOverview().catch(() => {}), 500); }

function listen() {
  if (state.events) state.events.close();
  const es = new EventSource("/api/stream");
  es.addEventListener("open", () => { $("#live").className = "live on"; text($("#live"), "live"); });
  es.addEventListener("error", () => { $("#live").className = "live off"; text($("#live"), "reconnecting"); });
  es.addEventListener("alert", (ev) => { upsert(JSON.parse(ev.data), true); overviewSoon(); });
  es.addEventListener("erasure", () => { loadAlerts().catch(() => {}); overviewSoon(); });
  es.addEventListener("resync", () => { loadAlerts().catch(() => {}); overviewSoon(); });  // updates missed while the database was away
  state.events = es;
}

async function start() {
  try { state.me = await api("/api/me"); } catch { return; }
  $("#sign-in").classList.add("hidden");
  $("#main").classList.remove("hidden");
  $("#sign-out").classList.remove("hidden");
  text($("#who"), `${state.me.name} (${state.me.role})`);
  if (state.me.role === "admin") { text($("#alerts"), "Admins manage tokens through /api/tokens."); return; }
  listen();
  await Promise.all([loadAlerts(), loadOverview()]);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#sign-in-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", signOut);
  for (const id of ["#f-tier", "#f-status", "#f-sort"]) $(id).addEventListener("change", () => loadAlerts());
  $("#more").addEventListener("click", () => loadAlerts(true));
  start();
});
