// newswatch: the analysts' page. Plain JavaScript, no build step, no library: it talks to the API
// of the same origin with the token the analyst signed in with (sent as a header, never in a URL).
// Every text from the data is set as text (textContent), never parsed as HTML.
"use strict";

const TOKEN_KEY = "newswatch.token";
const TYPE_LABEL = { offensive: "offensive", ceasefire: "ceasefire", troop_buildup: "troop build-up" };
const state = {
  token: null, me: null, meta: null, alerts: new Map(), feedSince: null, feedAbort: null,
  editing: null, search: { page: 1, size: 20, total: 0 }, countries: null, lastEvents: [], subtypes: [],
};

// ---- small helpers --------------------------------------------------------------------------------
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function safeUrl(url) {
  try { const u = new URL(url); return u.protocol === "http:" || u.protocol === "https:" ? u.href : null; }
  catch { return null; }
}

function randomKey() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// ---- the API --------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, detail, errors) { super(detail); this.status = status; this.errors = errors || []; }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && state.me) { signOut("The server no longer accepts this token: sign in again."); }
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || `HTTP ${res.status}`, data && data.errors);
  return data;
}

// ---- sign-in --------------------------------------------------------------------------------------
async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/api/me");
  } catch (err) {
    state.token = null;
    $("#signin-error").textContent = err.status === 401 ? "This token is not known: check it, or make one with "
      + "`newswatch token create --user NAME`." : `Could not sign in: ${err.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  // The forms' suggestions come from /api/meta: the app shows once they are set up, so a click on
  // "New subscription" right after sign-in never finds them missing.
  state.meta = await api("GET", "/api/meta").catch(() => null) || { actors: [], countries: [], event_types: [] };
  setupChipInputs();
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#tabs").hidden = false;
  $("#who-box").hidden = false;
  $("#who").textContent = state.me.admin ? `${state.me.user} (admin)` : state.me.user;
  $("#signin-error").textContent = "";
  loadSubscriptions();
  startFeed();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null; state.me = null;
  if (state.feedAbort) state.feedAbort.abort();
  $("#app").hidden = true; $("#tabs").hidden = true; $("#who-box").hidden = true;
  $("#signin").hidden = false;
  $("#token").value = "";
  $("#signin-error").textContent = message || "";
}

function showTab(name) {
  for (const b of $$(".tab-button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of $$(".tab")) s.hidden = s.id !== `tab-${name}`;
  if (name === "search" && !state.countries) loadCountries().then(() => drawMap(state.lastEvents));
}

// ---- chip inputs (countries, actors, places) with suggestions --------------------------------------
// A chip input holds a list of values; typing shows suggestions (from a list, or from the API) and
// Enter or a click adds one. `single` keeps at most one value.
class ChipInput {
  constructor(root, { suggest, single = false, free = null, onChange = () => {} }) {
    this.root = root; this.suggest = suggest; this.single = single; this.free = free; this.onChange = onChange;
    this.items = [];
    root.append($("#chip-input").content.cloneNode(true));
    this.list = $(".chip-list", root); this.input = $("input", root); this.box = $(".suggestions", root);
    this.input.id = `${root.id}-input`;
    this.active = -1; this.options = [];
    const update = debounce(() => this.refresh(), 120);
    this.input.addEventListener("input", update);
    this.input.addEventListener("keydown", (e) => this.key(e));
    this.input.addEventListener("blur", () => setTimeout(() => { this.box.hidden = true; }, 150));
  }

  values() { return this.items.map((i) => i.value); }
  set(items) { this.items = []; this.list.replaceChildren(); for (const i of items) this.add(i, false); }

  add(item, notify = true) {
    if (this.items.some((i) => i.value === item.value || (typeof i.value === "object" && i.label === item.label))) return;
    if (this.single) { this.items = []; this.list.replaceChildren(); }
    this.items.push(item);
    const chip = el("li", { class: "chip", dir: "auto" }, item.label,
      el("button", { type: "button", class: "chip-x", "aria-label": `remove ${item.label}`, text: "×",
        onclick: () => this.remove(item) }));
    this.list.append(chip);
    item.node = chip;
    this.input.value = ""; this.box.hidden = true;
    if (notify) this.onChange();
  }

  remove(item) {
    this.items = this.items.filter((i) => i !== item);
    item.node.remove();
    this.onChange();
  }

  async refresh() {
    const text = this.input.value.trim();
    if (!text) { this.box.hidden = true; return; }
    let options = [];
    try { options = await this.suggest(text); } catch { options = []; }
    if (text !== this.input.value.trim()) return; // typed on meanwhile
    this.options = options.slice(0, 10); this.active = this.options.length ? 0 : -1;
    this.box.replaceChildren(...this.options.map((o, i) => el("li", {
      role: "option", class: i === this.active ? "active" : "", dir: "auto",
      onmousedown: (e) => { e.preventDefault(); this.add(o); } }, o.label, o.note ? el("small", { text: ` ${o.note}` }) : null)));
    this.box.hidden = !this.options.length;
  }

  key(e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!this.options.length) return;
      e.preventDefault();
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : -1) + this.options.length) % this.options.length;
      $$("li", this.box).forEach((li, i) => li.classList.toggle("active", i === this.active));
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (this.active >= 0 && !this.box.hidden) this.add(this.options[this.active]);
      else if (this.free && this.input.value.trim()) { const item = this.free(this.input.value.trim()); if (item) this.add(item); }
    } else if (e.key === "Backspace" && !this.input.value && this.items.length) {
      this.remove(this.items[this.items.length - 1]);
    } else if (e.key === "Escape") { this.box.hidden = true; }
  }
}

const chips = {};

function listSuggest(values) {
  return async (text) => {
    const t = text.toLowerCase();
    return values.filter((v) => v.search.includes(t)).sort((a, b) => a.search.indexOf(t) - b.search.indexOf(t));
  };
}

async function placeSuggest(text) {
  const places = await api("GET", `/api/places?q=${encodeURIComponent(text)}&limit=10`);
  return places.map((p) => ({ value: p.canonical, label: p.canonical, place: p,
    note: `${p.kind}${p.country ? " · " + p.country : ""}` }));
}

function setupChipInputs() {
  if (chips.ready) return;
  const countries = (state.meta.countries || []).map((c) => ({ value: c.code, label: `${c.code} · ${c.name}`,
    search: `${c.code} ${c.name}`.toLowerCase() }));
  const actors = (state.meta.actors || []).map((a) => ({ value: a, label: a, search: a.toLowerCase() }));
  const freeCountry = (t) => (/^[A-Za-z]{2}$/.test(t) ? { value: t.toUpperCase(), label: t.toUpperCase() } : null);
  const freeName = (t) => ({ value: t, label: t });
  const searchAgain = () => runSearch(1);
  for (const [prefix, change] of [["sub", () => {}], ["s", searchAgain]]) {
    chips[`${prefix}-countries`] = new ChipInput($(`#${prefix}-countries`), { suggest: listSuggest(countries), free: freeCountry, onChange: change });
    chips[`${prefix}-actors`] = new ChipInput($(`#${prefix}-actors`), { suggest: listSuggest(actors), free: freeName, onChange: change });
    chips[`${prefix}-places`] = new ChipInput($(`#${prefix}-places`), { suggest: placeSuggest, free: freeName, onChange: change });
    chips[`${prefix}-near`] = new ChipInput($(`#${prefix}-near`), { suggest: placeSuggest, single: true, onChange: change });
  }
  chips["s-subtypes"] = new ChipInput($("#s-subtypes"), { suggest: async (t) => state.subtypes
    .filter((v) => v.includes(t.toLowerCase())).map((v) => ({ value: v, label: v })), free: freeName, onChange: searchAgain });
  chips.ready = true;
}

// ---- subscriptions --------------------------------------------------------------------------------
async function loadSubscriptions() {
  let subs = [];
  try { subs = await api("GET", "/api/subscriptions"); } catch (err) { $("#subs-empty").textContent = err.message; }
  const body = $("#sub-table tbody");
  body.replaceChildren(...subs.map(subscriptionRow));
  $("#subs-empty").hidden = subs.length > 0;
  $("#sub-table").hidden = subs.length === 0;
}

function subscriptionRow(sub) {
  const what = [sub.types.map((t) => TYPE_LABEL[t] || t).join(", ") || "any type",
    sub.actors.length ? `by ${sub.actors.join(", ")}` : "", sub.query ? `“${sub.query}”` : ""].filter(Boolean).join(" ");
  const where = [...sub.countries, ...sub.places, sub.near ? `≤ ${sub.radius_km} km of ${sub.near.lat.toFixed(2)},${sub.near.lon.toFixed(2)}` : ""]
    .filter(Boolean).join(", ") || "anywhere";
  const channels = sub.channels.map((c) => c.type).join(", ") || "page only";
  const throttle = sub.realert_s ? `${Math.round(sub.realert_s / 60)} min${sub.digest ? ", digest" : ""}` : "none";
  return el("tr", { "data-sub-id": sub.id },
    el("td", { dir: "auto" }, el("strong", { text: sub.name }), state.me.admin ? el("small", { text: ` (${sub.owner})` }) : null),
    el("td", { dir: "auto", text: what }), el("td", { dir: "auto", text: where }), el("td", { text: channels }),
    el("td", { text: throttle }),
    el("td", { class: "row-actions" },
      el("button", { type: "button", class: "link", text: "Edit", onclick: () => openForm(sub) }),
      el("button", { type: "button", class: "link", text: "Test", onclick: () => testSaved(sub) }),
      el("button", { type: "button", class: "link danger", text: "Delete", onclick: () => deleteSubscription(sub) })));
}

function openForm(sub) {
  state.editing = sub || null;
  const form = $("#sub-form");
  form.hidden = false;
  $("#test-results").hidden = true;
  $("#sub-form-title").textContent = sub ? `Edit “${sub.name}”` : "New subscription";
  clearErrors();
  $("#sub-name").value = sub ? sub.name : "";
  for (const box of $$("#sub-types input")) box.checked = !!sub && sub.types.includes(box.value);
  for (const box of $$("#sub-languages input")) box.checked = !!sub && sub.languages.includes(box.value);
  const countryName = Object.fromEntries((state.meta.countries || []).map((c) => [c.code, c.name]));
  chips["sub-countries"].set((sub ? sub.countries : []).map((c) => ({ value: c, label: countryName[c] ? `${c} · ${countryName[c]}` : c })));
  chips["sub-actors"].set((sub ? sub.actors : []).map((a) => ({ value: a, label: a })));
  chips["sub-places"].set((sub ? sub.places : []).map((p) => ({ value: p, label: p })));
  chips["sub-near"].set(sub && sub.near ? [{ value: sub.near, label: `${sub.near.lat.toFixed(3)}, ${sub.near.lon.toFixed(3)}`,
    place: { lat: sub.near.lat, lon: sub.near.lon } }] : []);
  $("#sub-radius").value = sub && sub.radius_km ? sub.radius_km : "";
  $("#sub-query").value = sub && sub.query ? sub.query : "";
  $("#sub-min-conf").value = sub ? sub.min_confidence : 0;
  $("#sub-realert").value = sub ? Math.round(sub.realert_s / 60) : 10;
  $("#sub-digest").checked = !!sub && sub.digest;
  $("#channels").replaceChildren();
  for (const c of sub ? sub.channels : []) addChannel(c, true);
  form.scrollIntoView({ behavior: "smooth", block: "start" });
  $("#sub-name").focus();
}

const CHANNEL_FIELD = { webhook: ["url", "https://receiver.example/alerts"], slack: ["url", "https://hooks.slack.com/services/…"],
  email: ["to", "analyst@example.org"], kafka: ["topic", "alerts.analyst"] };

function addChannel(channel = { type: "webhook" }, existing = false) {
  const row = el("li", { class: "channel" });
  const type = el("select", { class: "channel-type", "aria-label": "channel type" },
    ...Object.keys(CHANNEL_FIELD).map((t) => el("option", { value: t, text: t })));
  type.value = channel.type;
  const target = el("input", { class: "channel-target", "aria-label": "channel target", dir: "ltr" });
  const keyBox = el("span", { class: "channel-key" });
  const error = el("span", { class: "field-error channel-error" });
  const render = (keepValue) => {
    const [field, placeholder] = CHANNEL_FIELD[type.value];
    target.placeholder = placeholder;
    if (!keepValue) target.value = "";
    keyBox.replaceChildren();
    if (type.value === "webhook") {
      const key = el("input", { class: "channel-secret", readonly: true, "aria-label": "signing key", dir: "ltr",
        placeholder: "kept: keys are never shown again" });
      if (!existing) key.value = randomKey();
      keyBox.append(el("span", { class: "hint", text: "HMAC signing key " }), key,
        el("button", { type: "button", class: "link", text: "new key", onclick: () => { key.value = randomKey(); } }),
        el("span", { class: "hint", text: " give it to your receiver: it is not shown after saving" }));
    }
    row.dataset.field = field;
  };
  type.addEventListener("change", () => { existing = false; render(false); });
  render(true);
  const [field] = CHANNEL_FIELD[channel.type] || ["url"];
  target.value = channel[field] || "";
  row.append(type, target, el("button", { type: "button", class: "link danger", text: "remove", onclick: () => row.remove() }),
    keyBox, error);
  $("#channels").append(row);
}

function formBody() {
  const checked = (sel) => $$(`${sel} input:checked`).map((b) => b.value);
  const near = chips["sub-near"].items[0];
  const radius = $("#sub-radius").value.trim();
  const body = {
    name: $("#sub-name").value.trim(), types: checked("#sub-types"), languages: checked("#sub-languages"),
    countries: chips["sub-countries"].values(), actors: chips["sub-actors"].values(), places: chips["sub-places"].values(),
    query: $("#sub-query").value.trim() || null, min_confidence: Number($("#sub-min-conf").value || 0),
    realert_s: Math.round(Number($("#sub-realert").value || 0) * 60), digest: $("#sub-digest").checked,
    channels: $$("#channels .channel").map((row) => {
      const type = $(".channel-type", row).value;
      const channel = { type, [row.dataset.field]: $(".channel-target", row).value.trim() };
      const secret = $(".channel-secret", row);
      if (type === "webhook" && secret && secret.value) channel.secret = secret.value;
      return channel;
    }),
  };
  if (near) body.near = { lat: near.place.lat, lon: near.place.lon };
  if (radius) body.radius_km = Number(radius);
  return body;
}

function clearErrors() {
  $("#sub-errors").textContent = "";
  for (const e of $$("#sub-form .field-error")) e.textContent = "";
}

function showErrors(err) {
  clearErrors();
  $("#sub-errors").textContent = err.errors.length ? "Please fix the fields marked below." : err.message;
  for (const { field, message } of err.errors) {
    const parts = field.split(".");
    let slot = null;
    if (parts[0] === "channels" && parts.length > 1) slot = $$("#channels .channel-error")[Number(parts[1])];
    slot = slot || $(`#sub-form [data-error-for="${parts[0]}"]`);
    if (slot) slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + message;
    else $("#sub-errors").textContent += ` ${field}: ${message}.`;
  }
}

async function saveSubscription(e) {
  e.preventDefault();
  const body = formBody();
  try {
    const saved = state.editing ? await api("PUT", `/api/subscriptions/${state.editing.id}`, body)
      : await api("POST", "/api/subscriptions", body);
    $("#sub-form").hidden = true;
    await loadSubscriptions();
    flash($(`#sub-table tr[data-sub-id="${saved.id}"]`));
  } catch (err) {
    if (err instanceof ApiError) showErrors(err); else throw err;
  }
}

async function testForm() {
  try {
    const result = await api("POST", "/api/subscriptions/test?days=7", formBody());
    showTestResults(result, $("#sub-name").value.trim() || "this subscription");
  } catch (err) {
    if (err instanceof ApiError) showErrors(err); else throw err;
  }
}

async function testSaved(sub) {
  const result = await api("POST", `/api/subscriptions/${sub.id}/test?days=7`);
  showTestResults(result, sub.name);
}

function showTestResults(result, name) {
  const box = $("#test-results");
  box.hidden = false;
  $("#test-title").textContent = result.count
    ? `“${name}” would have alerted ${result.count} event(s) of the last ${result.days} days`
    : `“${name}” would have alerted nothing in the last ${result.days} days`;
  $("tbody", box).replaceChildren(...result.events.map((ev) => eventRow(ev)));
  $("table", box).hidden = !result.events.length;
  box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

async function deleteSubscription(sub) {
  if (!confirm(`Delete the subscription “${sub.name}”? Its alerts stay.`)) return;
  await api("DELETE", `/api/subscriptions/${sub.id}`);
  loadSubscriptions();
}

function flash(node) {
  if (!node) return;
  node.classList.add("flash");
  setTimeout(() => node.classList.remove("flash"), 1500);
}

// ---- events as rows (search results, test results) -------------------------------------------------
function sentenceWithTrigger(text, span) {
  const p = el("span", { class: "sentence", dir: "auto" });
  if (!text) return p;
  if (!span) { p.textContent = text; return p; }
  p.append(text.slice(0, span[0]), el("mark", { text: text.slice(span[0], span[1]) }), text.slice(span[1]));
  return p;
}

function articleLink(url) {
  const href = safeUrl(url);
  return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: "article ↗" }) : "";
}

function typeBadge(type, subtype) {
  return el("span", { class: `badge type-${type}` }, TYPE_LABEL[type] || type, subtype ? el("small", { text: ` ${subtype}` }) : null);
}

function eventRow(ev) {
  const places = (ev.locations || []).map((l) => `${l.canonical}${l.country ? " (" + l.country + ")" : ""}`).join(", ");
  const actors = (ev.actors || []).map((a) => a.canonical).join(", ");
  return el("tr", { "data-event-id": ev.id },
    el("td", { class: "nowrap", text: when(ev.published_at || ev.ingested_at) }),
    el("td", {}, typeBadge(ev.type, ev.subtype)),
    el("td", {}, sentenceWithTrigger(ev.sentence_text, ev.trigger_span),
      ev.title ? el("div", { class: "title", dir: "auto", text: ev.title }) : null),
    el("td", { dir: "auto", text: actors || "–" }), el("td", { dir: "auto", text: places || "–" }),
    el("td", {}, articleLink(ev.url)));
}

// ---- live alerts ----------------------------------------------------------------------------------
async function startFeed() {
  state.alerts.clear();
  state.feedSince = new Date(Date.now() - 60_000).toISOString();
  try {
    const list = await api("GET", "/api/alerts?limit=200");
    for (const a of list.alerts) upsertAlert(a, false);
  } catch (err) { setFeedStatus(`could not load alerts: ${err.message}`, "bad"); }
  renderFeed();
  runFeed();
}

function setFeedStatus(text, kind = "") {
  const s = $("#feed-status");
  s.textContent = text;
  s.className = `status ${kind}`;
}

// Server-sent events read through fetch, so the token travels in the Authorization header; on any
// break the feed reconnects and asks for what changed since the last alert it saw.
async function runFeed() {
  const token = state.token;
  while (state.token === token && token) {
    const ctrl = new AbortController();
    state.feedAbort = ctrl;
    try {
      setFeedStatus("connecting…");
      const res = await fetch(`/api/alerts/stream?since=${encodeURIComponent(state.feedSince)}`, {
        headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" }, signal: ctrl.signal, cache: "no-store" });
      if (res.status === 401) { signOut("The server no longer accepts this token: sign in again."); return; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setFeedStatus("live", "good");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          handleServerEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (err) {
      if (err.name === "AbortError") return;
    }
    if (state.token !== token) return;
    setFeedStatus("reconnecting…", "bad");
    await sleep(2000);
  }
}

function handleServerEvent(block) {
  let type = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (type === "alert" && data) {
    const alert = JSON.parse(data);
    if (alert.updated_at && alert.updated_at > state.feedSince) state.feedSince = alert.updated_at;
    upsertAlert(alert, true);
    renderFeed();
  } else if (type === "problem") {
    setFeedStatus("search engine not answering; retrying", "bad");
  }
}

function upsertAlert(alert, fresh) {
  const known = state.alerts.get(alert.id);
  alert.fresh = fresh && !known;
  state.alerts.set(alert.id, alert);
}

function renderFeed() {
  const showAcked = $("#show-acked").checked;
  const all = Array.from(state.alerts.values()).sort((a, b) => (b.matched_at || "").localeCompare(a.matched_at || ""));
  const shown = all.filter((a) => showAcked || a.state === "new");
  $("#alert-feed").replaceChildren(...shown.map(alertItem));
  $("#feed-empty").hidden = shown.length > 0;
  const unacked = all.filter((a) => a.state === "new").length;
  const badge = $("#unacked");
  badge.hidden = unacked === 0;
  badge.textContent = unacked;
}

function alertItem(alert) {
  const ev = alert.event || {};
  const places = (ev.locations || []).map((l) => l.canonical).join(", ");
  const actors = (ev.actors || []).map((a) => a.canonical).join(", ");
  const item = el("li", { class: `alert ${alert.state}${alert.fresh ? " fresh" : ""}`, "data-alert-id": alert.id },
    el("div", { class: "alert-head" },
      alert.kind === "surge" ? el("span", { class: "badge surge", text: "surge" }) : typeBadge(ev.type, ev.subtype),
      el("span", { class: "sub", dir: "auto", text: alert.subscription_name }),
      el("time", { datetime: alert.matched_at, text: when(alert.matched_at) }),
      el("span", { class: `state ${alert.state}`, text: alert.state }),
      alert.state === "new" ? el("button", { type: "button", class: "ack secondary", text: "Acknowledge",
        onclick: () => acknowledge(alert) }) : el("small", { class: "hint", text: `by ${alert.acknowledged_by || "?"}` })),
    el("p", {}, sentenceWithTrigger(ev.sentence_text, alert.trigger_span)),
    el("div", { class: "alert-meta" },
      places ? el("span", { dir: "auto", text: `places: ${places}` }) : null,
      actors ? el("span", { dir: "auto", text: `actors: ${actors}` }) : null,
      alert.status ? el("span", { text: `delivery: ${alert.status}` }) : null,
      articleLink(alert.article_url || ev.url)));
  alert.fresh = false;
  return item;
}

async function acknowledge(alert) {
  try {
    const updated = await api("POST", `/api/alerts/${alert.id}/ack`);
    upsertAlert(updated, false);
    renderFeed();
  } catch (err) { setFeedStatus(`could not acknowledge: ${err.message}`, "bad"); }
}

// ---- event search -----------------------------------------------------------------------------------
function searchParams(page) {
  const p = new URLSearchParams();
  const q = $("#q").value.trim();
  if (q) p.set("q", q);
  for (const b of $$("#s-types input:checked")) p.append("type", b.value);
  for (const c of chips["s-countries"].values()) p.append("country", c);
  for (const a of chips["s-actors"].values()) p.append("actor", a);
  for (const st of chips["s-subtypes"].values()) p.append("subtype", st);
  for (const pl of chips["s-places"].values()) p.append("place", pl);
  const near = chips["s-near"].items[0];
  if (near) {
    p.set("near", `${near.place.lat},${near.place.lon}`);
    p.set("radius_km", $("#s-radius").value.trim() || "50");
  }
  if ($("#s-since").value) p.set("since", $("#s-since").value);
  if ($("#s-lang").value) p.append("language", $("#s-lang").value);
  p.set("sort", $("#s-sort").value);
  p.set("page", page); p.set("size", state.search.size);
  return p;
}

async function runSearch(page = 1) {
  $("#search-error").textContent = "";
  let result;
  try {
    result = await api("GET", `/api/events/search?${searchParams(page)}`);
  } catch (err) {
    $("#search-error").textContent = err.errors.length ? err.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : err.message;
    return;
  }
  state.search.page = page; state.search.total = result.total;
  state.lastEvents = result.events;
  $("#results tbody").replaceChildren(...result.events.map(eventRow));
  const pages = Math.max(1, Math.ceil(result.total / state.search.size));
  $("#result-count").textContent = `${result.total} event(s)`;
  $("#page-info").textContent = `page ${page} of ${pages}`;
  $("#prev-page").disabled = page <= 1;
  $("#next-page").disabled = page >= pages;
  renderFacets(result.facets);
  for (const b of result.facets.subtype || []) if (!state.subtypes.includes(b.value)) state.subtypes.push(b.value);
  if (!state.countries) await loadCountries();
  drawMap(result.events);
}

const FACET_TITLES = { type: "Type", subtype: "Subtype", actor: "Actor", country: "Country", place: "Place", language: "Language" };

function renderFacets(facets) {
  const box = $("#facets");
  box.replaceChildren(el("h3", { text: "Refine" }));
  for (const [name, buckets] of Object.entries(facets)) {
    if (!buckets.length) continue;
    box.append(el("h4", { text: FACET_TITLES[name] || name }),
      el("ul", {}, ...buckets.map((b) => el("li", {},
        el("button", { type: "button", class: "facet", dir: "auto", "data-facet": name, "data-value": b.value,
          onclick: () => applyFacet(name, b.value) }, name === "type" ? (TYPE_LABEL[b.value] || b.value) : b.value,
          el("span", { class: "count", text: b.count }))))));
  }
}

function applyFacet(name, value) {
  if (name === "type") { const box = $(`#s-types input[value="${value}"]`); if (box) box.checked = true; }
  else if (name === "country") chips["s-countries"].add({ value, label: value }, false);
  else if (name === "actor") chips["s-actors"].add({ value, label: value }, false);
  else if (name === "place") chips["s-places"].add({ value, label: value }, false);
  else if (name === "subtype") chips["s-subtypes"].add({ value, label: value }, false);
  else if (name === "language") $("#s-lang").value = value;
  runSearch(1);
}

// ---- the map: country outlines from the API, projected here, markers for the results -----------------
const MAP_W = 960, MAP_H = 440;
const DEFAULT_VIEW = { minLon: 20, maxLon: 62, minLat: 8, maxLat: 44 }; // the Middle East and around

async function loadCountries() {
  try {
    const res = await fetch("/api/map/countries");
    const data = await res.json();
    state.countries = data.countries.map((c) => ({ ...c, boxes: c.rings.map(ringBox) }));
  } catch { state.countries = []; }
}

function ringBox(ring) {
  let minLon = 180, maxLon = -180, minLat = 90, maxLat = -90;
  for (const [lon, lat] of ring) {
    if (lon < minLon) minLon = lon; if (lon > maxLon) maxLon = lon;
    if (lat < minLat) minLat = lat; if (lat > maxLat) maxLat = lat;
  }
  return { minLon, maxLon, minLat, maxLat };
}

// An equirectangular projection scaled by the cosine of the view's middle latitude (shapes look
// right at the scale of a region), fitted around the points with a margin.
function fitView(points) {
  let v = { ...DEFAULT_VIEW };
  if (points.length) {
    const lons = points.map((p) => p.lon), lats = points.map((p) => p.lat);
    v = { minLon: Math.min(...lons) - 4, maxLon: Math.max(...lons) + 4, minLat: Math.min(...lats) - 3, maxLat: Math.max(...lats) + 3 };
    const minSpan = 24; // one place alone still shows its neighbours
    if (v.maxLon - v.minLon < minSpan) { const c = (v.maxLon + v.minLon) / 2; v.minLon = c - minSpan / 2; v.maxLon = c + minSpan / 2; }
    if (v.maxLat - v.minLat < minSpan / 2) { const c = (v.maxLat + v.minLat) / 2; v.minLat = c - minSpan / 4; v.maxLat = c + minSpan / 4; }
  }
  const k = Math.cos(((v.minLat + v.maxLat) / 2) * Math.PI / 180);
  const w = (v.maxLon - v.minLon) * k, h = v.maxLat - v.minLat;
  if (w / h < MAP_W / MAP_H) {
    const lonSpan = (h * MAP_W / MAP_H) / k, c = (v.maxLon + v.minLon) / 2;
    v.minLon = c - lonSpan / 2; v.maxLon = c + lonSpan / 2;
  } else {
    const latSpan = w * MAP_H / MAP_W, c = (v.maxLat + v.minLat) / 2;
    v.minLat = c - latSpan / 2; v.maxLat = c + latSpan / 2;
  }
  v.k = k; v.scale = MAP_W / ((v.maxLon - v.minLon) * k);
  return v;
}

function project(v, lon, lat) {
  return [((lon - v.minLon) * v.k * v.scale).toFixed(1), ((v.maxLat - lat) * v.scale).toFixed(1)];
}

function drawMap(events) {
  const map = $("#map-svg");
  const points = [];
  for (const ev of events || []) for (const p of ev.points || []) points.push({ ...p, ev });
  const v = fitView(points);
  const land = svg("g", { class: "land" });
  for (const c of state.countries || []) {
    let d = "";
    c.rings.forEach((ring, i) => {
      const b = c.boxes[i];
      if (b.maxLon < v.minLon || b.minLon > v.maxLon || b.maxLat < v.minLat || b.minLat > v.maxLat) return;
      d += "M" + ring.map(([lon, lat]) => project(v, lon, lat).join(",")).join("L") + "Z";
    });
    if (d) {
      const path = svg("path", { d, class: "country", "data-code": c.code });
      path.append(svg("title")); path.lastChild.textContent = c.name;
      land.append(path);
    }
  }
  const markers = svg("g", { class: "markers" });
  const groups = new Map();
  for (const p of points) {
    const key = `${p.lat.toFixed(2)},${p.lon.toFixed(2)}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(p);
  }
  for (const group of groups.values()) {
    const [x, y] = project(v, group[0].lon, group[0].lat);
    const type = group[0].ev.type;
    const circle = svg("circle", { cx: x, cy: y, r: (5 + 2.5 * Math.sqrt(group.length - 1)).toFixed(1),
      class: `marker type-${type}`, "data-event-ids": group.map((p) => p.ev.id).join(" ") });
    const title = svg("title");
    const place = (group[0].ev.locations || []).find((l) => Math.abs(l.lat - group[0].lat) < 0.01) || {};
    title.textContent = `${place.canonical || ""} — ${group.length} event(s)\n` +
      group.slice(0, 5).map((p) => `${TYPE_LABEL[p.ev.type] || p.ev.type}: ${p.ev.sentence_text || ""}`).join("\n");
    circle.append(title);
    circle.addEventListener("click", () => highlightRows(group.map((p) => p.ev.id)));
    markers.append(circle);
  }
  map.replaceChildren(svg("rect", { x: 0, y: 0, width: MAP_W, height: MAP_H, class: "sea" }), land, markers);
  const unplaced = (events || []).filter((ev) => !(ev.points || []).length).length;
  $("#map-note").textContent = (events || []).length
    ? `${groups.size} place(s) on the map${unplaced ? `; ${unplaced} event(s) have no coordinates` : ""}. Outlines: countryinfo package.`
    : "Search to see events on the map.";
}

function highlightRows(ids) {
  for (const row of $$("#results tbody tr")) row.classList.toggle("selected", ids.includes(row.dataset.eventId));
  const first = $(`#results tbody tr.selected`);
  if (first) first.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

// ---- wiring ---------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#token").value.trim()); });
  $("#sign-out").addEventListener("click", () => signOut(""));
  for (const b of $$(".tab-button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#show-acked").addEventListener("change", renderFeed);
  $("#new-sub").addEventListener("click", () => openForm(null));
  $("#sub-cancel").addEventListener("click", () => { $("#sub-form").hidden = true; });
  $("#sub-form").addEventListener("submit", saveSubscription);
  $("#sub-test").addEventListener("click", testForm);
  $("#add-channel").addEventListener("click", () => addChannel());
  $("#search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(1); });
  for (const id of ["#s-since", "#s-lang", "#s-sort"]) $(id).addEventListener("change", () => runSearch(1));
  for (const box of $$("#s-types input")) box.addEventListener("change", () => runSearch(1));
  $("#prev-page").addEventListener("click", () => runSearch(state.search.page - 1));
  $("#next-page").addEventListener("click", () => runSearch(state.search.page + 1));
  drawMap([]);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
