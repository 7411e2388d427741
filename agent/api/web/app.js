// segmint web app: one small page over the REST API (no framework, no asset from the internet).
"use strict";

const state = { token: null, summary: null, segments: [], byId: {}, context: null, lastAnswer: null,
  picturesDrawn: false };
const PALETTE = ["#4f46e5", "#0ea5e9", "#16a34a", "#f59e0b", "#dc2626", "#9333ea", "#0d9488", "#db2777",
  "#65a30d", "#ea580c", "#2563eb", "#7c3aed", "#059669", "#ca8a04", "#e11d48", "#0891b2", "#4d7c0f",
  "#c026d3", "#b45309", "#475569"];
const SUGGESTIONS = ["who are my lapsed high spenders?", "top 10 customers by revenue",
  "how many one-time buyers do I have?", "of those, who spent over 500?", "who are my new customers?"];

// The same follow-up phrases the server recognises (segmint.agent.ask.conversation.FOLLOW_UP).
const FOLLOW_UP = /^\s*(?:(?:and\s+)?(?:of|among|from|out of)\s+(?:those|these|them|which)|of which|now(?:\s+only)?|and\s+only|but\s+only|only|just|what about|how about|and)\b/i;
const $ = (sel, root = document) => root.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
function toast(message) {
  const t = $("#toast");
  t.textContent = message;
  t.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.add("hidden"), 5000);
}

// ---------- API ----------
class ApiError extends Error {
  constructor(status, detail, body) { super(detail); this.status = status; this.body = body; }
}
function authHeaders() { return state.token ? { Authorization: `Bearer ${state.token}` } : {}; }
async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (res.status === 401) { $("#token-bar").classList.remove("hidden"); }
  if (!res.ok) {
    let body = {};
    try { body = await res.json(); } catch (e) { body = { detail: res.statusText }; }
    throw new ApiError(res.status, body.detail || res.statusText, body);
  }
  return res;
}
const getJson = async (path) => (await api(path)).json();

// ---------- formatting ----------
const nf = new Intl.NumberFormat("en-GB");
const money = (v) => v === null || v === undefined ? "–"
  : `${state.summary?.currency || ""}${Number(v).toLocaleString("en-GB", { maximumFractionDigits: v >= 100 ? 0 : 2 })}`;
const pct = (v) => v === null || v === undefined ? "–" : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
const num = (v) => v === null || v === undefined ? "–" : nf.format(Math.round(v * 10) / 10);
const days = (v) => v === null || v === undefined ? "no order" : `${nf.format(v)} day${v === 1 ? "" : "s"} ago`;
function segColor(id) {
  if (String(id) === "0") return "#98a2b3";
  const index = state.segments.findIndex((s) => s.id === String(id));
  return PALETTE[(index < 0 ? Number(id) : index) % PALETTE.length];
}
const segName = (id) => state.byId[String(id)]?.name || (String(id) === "0" ? "Unassigned" : `Segment ${id}`);
const short = (text, n = 26) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

// ---------- tabs ----------
function show(view) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.view === view));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === `view-${view}`));
  if (view === "pictures") drawPictures();
  if (view === "audit" && !state.auditDrawn) { state.auditDrawn = true; runAudit(); }
  window.scrollTo({ top: 0 });
}

// ---------- summary and segments ----------
async function loadShop() {
  try {
    state.summary = await getJson("/api/summary");
    const s = state.summary;
    const asOf = s.as_of ? new Date(s.as_of).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" }) : "";
    $("#summary").replaceChildren(el("b", {}, nf.format(s.customers)), " customers · ", el("b", {}, money(s.revenue)),
      " revenue · ", el("b", {}, s.segments), " segments", asOf ? ` · data up to ${asOf}` : "");
    const doc = await getJson("/api/segments");
    state.segments = doc.segments;
    state.byId = Object.fromEntries(doc.segments.map((seg) => [seg.id, seg]));
    renderSegments();
    $("#token-bar").classList.add("hidden");
    const attributes = s.attributes || [];
    if (attributes.length && await api("/api/audit?attribute=" + encodeURIComponent(attributes[0])).then(() => true, () => false)) {
      $("#audit-attribute").replaceChildren(...attributes.map((a) => el("option", { value: a }, a.replace(/_/g, " "))));
      $("#audit-tab").classList.remove("hidden");
    }
  } catch (err) {
    if (err.status !== 401) toast(err.message);
    $("#summary").textContent = err.status === 401 ? "Locked: enter the access token" : "Could not load the shop";
  }
}

function fact(value, key) { return el("div", { class: "fact" }, el("div", { class: "v" }, value), el("div", { class: "k" }, key)); }

function segmentFacts(seg) {
  const f = seg.facts || {};
  const med = f.median || {};
  const lapsed = f.term_shares?.lapsed;
  return el("div", { class: "facts" },
    fact(money(med.revenue), "median revenue"), fact(num(med.orders), "median orders"),
    fact(med.recency_days === undefined || med.recency_days === null ? "–" : `${num(med.recency_days)} d`, "since last order"),
    fact(pct(f.revenue_share), "of revenue"), fact(money(med.aov), "avg order"),
    fact(lapsed === undefined ? "–" : pct(lapsed), "lapsed"));
}

function renderSegments() {
  const cards = $("#segment-cards");
  cards.replaceChildren(...state.segments.filter((s) => s.size > 0).map((seg) => el("article", {
    class: "card", style: `--seg:${segColor(seg.id)}`, "data-testid": "segment-card", "data-segment": seg.id,
    onclick: () => openSegment(seg.id),
  },
  el("div", { class: "name" }, seg.name || `Segment ${seg.id}`),
  el("div", { class: "badges" }, el("span", { class: "badge strong" }, `${nf.format(seg.size)} customers`),
    el("span", { class: "badge" }, `${pct(seg.share)} of customers`),
    seg.facts?.revenue_share !== undefined ? el("span", { class: "badge" }, `${pct(seg.facts.revenue_share)} of revenue`) : null),
  el("div", { class: "desc" }, seg.description || ""),
  segmentFacts(seg),
  el("div", { class: "terms" }, (seg.top_terms || []).slice(0, 8).map((t) => el("span", { class: "term" }, t))))));
  $("#segments-note").textContent = `${state.segments.filter((s) => s.id !== "0").length} segments. Click a card for its products, people and a campaign list.`;
}

async function openSegment(id) {
  show("segments");
  const box = $("#segment-detail");
  box.classList.remove("hidden");
  box.replaceChildren(el("span", { class: "spinner" }));
  let seg;
  try { seg = await getJson(`/api/segments/${encodeURIComponent(id)}`); } catch (err) { box.replaceChildren(err.message); return; }
  box.style.setProperty("--seg", segColor(seg.id));
  const f = seg.facts || {};
  const products = (f.top_products || []).slice(0, 8);
  const cats = (f.top_categories || []).slice(0, 6);
  // Attributes worth a line: a value shared by at least 5% of the segment (not a per-customer date).
  const attrs = Object.entries(f.attributes || {}).filter(([, values]) => values.length && values[0].share >= 0.05);
  box.replaceChildren(
    el("div", { class: "detail-head" },
      el("div", {}, el("h1", {}, seg.name || `Segment ${seg.id}`), el("p", { class: "muted" }, seg.description || "")),
      el("div", { class: "actions" }, exportControls({ segment: seg.id }, `segment ${seg.id}`),
        el("button", { onclick: () => box.classList.add("hidden") }, "Close"))),
    el("div", { class: "badges" }, el("span", { class: "badge strong" }, `${nf.format(seg.size)} customers`),
      el("span", { class: "badge" }, `${pct(seg.share)} of customers`),
      ...(seg.key_traits || []).map((t) => el("span", { class: "badge" }, t))),
    el("div", { class: "cols" },
      el("div", {},
        el("h3", {}, "Key facts"), segmentFacts(seg),
        products.length ? el("h3", {}, "What they buy") : null,
        products.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Product"), el("th", { class: "num" }, "Buyers"), el("th", {}, "Share"))),
          el("tbody", {}, products.map((p) => el("tr", {}, el("td", {}, p.text || p.product_id), el("td", { class: "num" }, nf.format(p.buyers)),
            el("td", {}, el("div", { class: "bar" }, el("span", { style: `width:${Math.round(p.share * 100)}%` }))))))) : null),
      el("div", {},
        cats.length ? el("h3", {}, "Categories (× more likely than the average customer)") : null,
        cats.length ? el("div", { class: "badges" }, cats.map((c) => el("span", { class: "badge" }, `${c.category} · ${pct(c.share)} · ×${c.lift}`))) : null,
        el("h3", {}, "Top terms"), el("div", { class: "terms" }, (seg.top_terms || []).map((t) => el("span", { class: "term" }, t))),
        attrs.length ? el("h3", {}, "Who they are") : null,
        ...attrs.map(([name, values]) => el("div", { class: "note" }, `${name.replace(/_/g, " ")}: `,
          values.slice(0, 3).map((v) => `${v.value} ${pct(v.share)}`).join(", "))),
        (seg.suggested_actions || []).length ? el("h3", {}, "Suggested next steps") : null,
        el("ul", {}, (seg.suggested_actions || []).map((a) => el("li", {}, a))),
        (f.representatives || []).length ? el("h3", {}, "Typical customers") : null,
        el("div", { class: "badges" }, (f.representatives || []).map((u) => el("button", { class: "chip id", onclick: () => openCustomer(u) }, u))))),
    el("div", { id: "segment-extras" }));
  window.scrollTo({ top: 0 });
  loadCampaign(seg, $("#segment-extras"));
}

function productsTable(items, testid) {
  // A suggestion from the customer's own history says which of their products it is tied to.
  const because = items.some((p) => p.because);
  return el("table", { "data-testid": testid },
    el("thead", {}, el("tr", {}, el("th", {}, "Product"), el("th", { class: "num" }, "Bought by"), el("th", { class: "num" }, "× the shop"),
      because ? el("th", {}, "Because they bought") : null)),
    el("tbody", {}, items.map((p) => el("tr", {}, el("td", {}, p.text || p.product_id),
      el("td", { class: "num" }, pct(p.buyers_share)), el("td", { class: "num" }, p.lift ? `×${Number(p.lift).toFixed(1)}` : "–"),
      because ? el("td", { class: "because" }, p.because || "–") : null))));
}

// Recommended products and a campaign brief (the recommend/brief routes; left out where absent).
async function loadCampaign(seg, box) {
  const id = encodeURIComponent(seg.id);
  const [rec, brief] = await Promise.all([getJson(`/api/recommend?segment=${id}&limit=6`).catch(() => null),
    getJson(`/api/brief?segment=${id}`).catch(() => null)]);
  if (!rec && !brief) return;
  const field = (label, value, cls) => value ? [el("dt", {}, label), el("dd", { class: cls || null }, value)] : [];
  box.replaceChildren(el("div", { class: "campaign", "data-testid": "campaign" },
    rec ? el("div", {}, el("h3", {}, "Products to promote"), rec.items.length ? productsTable(rec.items, "recommend")
      : el("p", { class: "note", "data-testid": "recommend-reason" }, rec.reason || "No product stands out for this segment.")) : el("div"),
    brief ? el("div", {}, el("h3", {}, "Campaign brief"), el("dl", { class: "brief", "data-testid": "brief" },
      ...field("Goal", brief.goal), ...field("Audience", brief.audience), ...field("Offer", brief.offer),
      ...field("Channel", brief.channel), ...field("Message", brief.message, "message"))) : el("div")));
}

// ---------- export ----------
function exportControls(params, label) {
  const select = el("select", { "aria-label": "format", "data-testid": "export-format" },
    el("option", { value: "csv" }, "CSV"), el("option", { value: "parquet" }, "Parquet"), el("option", { value: "jsonl" }, "JSON Lines"));
  const button = el("button", { class: "primary", "data-testid": "export", onclick: async () => {
    button.disabled = true;
    try {
      const query = new URLSearchParams({ ...params, format: select.value });
      const res = await api(`/api/export?${query}`);
      const blob = await res.blob();
      const name = (res.headers.get("content-disposition") || "").match(/filename="?([^";]+)"?/)?.[1] || `customers.${select.value}`;
      const link = el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(link);
      link.click();
      link.remove();
      toast(`Downloaded ${name} (${label})`);
    } catch (err) { toast(err.message); } finally { button.disabled = false; }
  } }, "Export list");
  return [select, button];
}

// ---------- ask ----------
function customersTable(rows) {
  return el("table", { "data-testid": "customers" },
    el("thead", {}, el("tr", {}, el("th", {}, "Customer"), el("th", { class: "num" }, "Revenue"), el("th", { class: "num" }, "Orders"),
      el("th", {}, "Last order"), el("th", {}, "Why"))),
    el("tbody", {}, rows.map((r) => el("tr", { class: "clickable", onclick: () => openCustomer(r.user_id) },
      el("td", { class: "id" }, r.user_id), el("td", { class: "num" }, money(r.revenue)), el("td", { class: "num" }, num(r.orders)),
      el("td", {}, days(r.recency_days)), el("td", { class: "note" }, r.why)))));
}

// A number of an answer, as the server's measure reads: a share in percent, money with the
// shop's currency, counts whole.
const MONEY_FIELDS = new Set(["revenue", "aov", "returned_amount", "expected_spend", "expected_value", "spend"]);
function measureValue(a, v) {
  const m = a.query?.measure || { agg: "count" };
  if (v === null || v === undefined) return "–";
  if (m.agg === "share") return pct(v);
  if (m.agg === "count") return nf.format(v);
  if (!MONEY_FIELDS.has(m.field)) return nf.format(Math.round(v * 100) / 100);
  const pence = Math.abs(v).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${v < 0 ? "−" : ""}${state.summary?.currency || ""}${pence}`;
}

function answerTable(a) {
  return el("table", { "data-testid": "answer-table" },
    el("thead", {}, el("tr", {}, el("th", {}, (a.group_by || "").replaceAll("_", " ")), el("th", { class: "num" }, a.measure),
      el("th", { class: "num" }, "Customers"))),
    el("tbody", {}, a.rows.map((r) => el("tr", {}, el("td", {}, r.group), el("td", { class: "num" }, measureValue(a, r.value)),
      el("td", { class: "num" }, nf.format(r.customers))))));
}

function matchedProducts(a) {
  if (!a.matched_products) return null;
  const shown = a.matched_products.slice(0, 12);
  return el("div", { class: "products-matched", "data-testid": "matched-products" }, el("b", {}, "Products matched: "),
    shown.length ? shown.map((p) => el("span", { class: "chip static" }, `${p.text || p.product_id} (${nf.format(p.customers)})`))
      : el("span", { class: "note" }, "none"),
    a.matched_products.length > shown.length ? el("span", { class: "note" }, ` and ${nf.format(a.matched_products.length - shown.length)} more`) : null);
}

function answerHeadline(a) {
  if (a.kind === "number") {
    return el("div", { class: "headline" }, el("span", { class: "count", "data-testid": "answer-value" }, measureValue(a, a.value)),
      el("span", { class: "count-label" }, a.query?.measure?.agg === "count" || !a.measure ? (a.count === 1 ? "customer" : "customers")
        : `${a.measure} · ${nf.format(a.customers)} customers`));
  }
  if (a.kind === "table") return el("div", { class: "answer-text", "data-testid": "answer-text" }, a.answer);
  return el("div", { class: "headline" }, el("span", { class: "count", "data-testid": "answer-count" }, nf.format(a.count)),
    el("span", { class: "count-label" }, a.count === 1 ? "customer" : "customers"));
}

async function ask(question) {
  question = question.trim();
  if (!question) return;
  const thread = $("#thread");
  const card = el("article", { class: "answer", "data-testid": "answer" }, el("div", { class: "q" }, `“${question}”`), el("span", { class: "spinner" }));
  thread.append(card);
  $("#ask-button").disabled = true;
  try {
    const res = await api("/api/ask", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, context: state.context }) });
    const a = await res.json();
    const followUp = state.context !== null && FOLLOW_UP.test(question);
    state.context = a.query;
    state.lastAnswer = a;
    const list = (a.kind || "customers") === "customers" && a.query?.intent !== "count";
    card.replaceChildren(...[el("div", { class: "q" }, `“${question}”`,
      followUp ? el("span", { class: "badge strong follow" }, "narrows the previous answer") : null),
      answerHeadline(a),
      el("div", { class: "definition", "data-testid": "definition" }, el("b", {}, "Definition: "), a.definition),
      a.notes?.length ? el("div", { class: "note", "data-testid": "answer-notes" }, a.notes.join(" ")) : null,
      matchedProducts(a),
      a.kind === "table" ? answerTable(a) : null,
      list && a.sample.length ? customersTable(a.sample) : null,
      el("div", { class: "actions" },
        list && a.sample.length < a.count ? el("span", { class: "note" }, `Showing ${a.sample.length} of ${nf.format(a.count)}. `) : null,
        a.count ? exportControls({ query: JSON.stringify(a.query) }, question) : null,
        el("span", { class: "note" }, "Ask a follow-up such as “of those, who …” to narrow this answer.")),
      list && a.count ? saveAudienceForm(question, a.query) : null]
      .filter((part) => part !== null));
    $("#context").classList.remove("hidden");
    $("#context-text").textContent = `Follow-ups refine: “${short(question, 60)}” (${nf.format(a.count)} customers)`;
  } catch (err) {
    card.classList.add("failed");
    card.replaceChildren(el("div", { class: "q" }, `“${question}”`), el("div", { "data-testid": "answer-error" },
      err.status === 400 ? "I could not turn that into a definition. " : "", err.message));
  } finally { $("#ask-button").disabled = false; }
}

// ---------- customer ----------
async function openCustomer(id) {
  show("customer");
  $("#user-id").value = id;
  const box = $("#customer");
  box.replaceChildren(el("span", { class: "spinner" }));
  let user;
  try { user = await getJson(`/api/users/${encodeURIComponent(id)}`); } catch (err) { box.replaceChildren(el("div", { class: "empty" }, err.message)); return; }
  const f = user.features;
  const seg = user.segment;
  const attrs = Object.entries(f).filter(([k, v]) => typeof v === "string" && !/_seen$|_purchase$|date$/.test(k) && k !== "top_category");
  const similarBox = el("div", {}, el("span", { class: "spinner" }));
  box.replaceChildren(el("div", { class: "profile" },
    el("div", { class: "panel", "data-testid": "customer-card", style: seg ? `--seg:${segColor(seg.id)}` : "" },
      el("h1", {}, "Customer ", el("span", { class: "id big" }, user.user_id)),
      seg ? el("button", { class: "chip seg-pill", onclick: () => openSegment(seg.id) }, el("span", { class: "dot" }), seg.name || `Segment ${seg.id}`) : null,
      el("p", { class: "why", "data-testid": "why" }, user.why),
      el("h3", {}, "Purchases"),
      el("div", { class: "kv" }, fact(money(f.revenue), "revenue"), fact(num(f.orders), "orders"),
        fact(f.recency_days === null ? "–" : `${num(f.recency_days)} d`, "since last order"),
        fact(money(f.aov), "avg order"), fact(f.tenure_days === null || f.tenure_days === undefined ? "–" : `${num(f.tenure_days)} d`, "customer for"),
        fact(num(f.returns), "returns")),
      el("h3", {}, "Behaviour"),
      el("div", { class: "kv" }, fact(num(f.n_events), "events"), fact(num(f.n_search), "searches"), fact(num(f.n_view), "views"),
        fact(num(f.n_products), "products"), fact(num(f.active_days), "active days"), fact(f.top_category || "–", "top category")),
      attrs.length ? el("h3", {}, "About") : null,
      attrs.length ? el("div", { class: "badges" }, attrs.map(([k, v]) => el("span", { class: "badge" }, `${k.replace(/_/g, " ")}: ${v}`))) : null),
    el("div", {}, el("div", { class: "panel" }, el("h2", {}, "Lookalikes"),
      el("p", { class: "muted small" }, "Customers whose searches, views and purchases are closest: good targets for the same offer."), similarBox),
      el("div", { id: "customer-recommend" }))));
  getJson(`/api/recommend?user=${encodeURIComponent(user.user_id)}&limit=5`).then((rec) => {
    // The note says which basis the suggestions come from (the segment, or the customer's own
    // history when they are loosely placed), so the reader can tell why these products.
    $("#customer-recommend").replaceChildren(el("div", { class: "panel", style: "margin-top:16px" }, el("h2", {}, "Products to suggest"),
      el("p", { class: "muted small", "data-testid": "recommend-note" }, rec.note ? rec.note.charAt(0).toUpperCase() + rec.note.slice(1) + "." : ""),
      rec.items.length ? productsTable(rec.items, "customer-recommend") : null));
  }).catch(() => null);
  try {
    const sim = await getJson(`/api/similar/${encodeURIComponent(user.user_id)}?k=10`);
    const rows = await Promise.all(sim.similar.map(async (s) => ({ ...s, user: await getJson(`/api/users/${encodeURIComponent(s.user_id)}`).catch(() => null) })));
    similarBox.replaceChildren(el("table", { "data-testid": "lookalikes" },
      el("thead", {}, el("tr", {}, el("th", {}, "Customer"), el("th", {}, "Segment"), el("th", { class: "num" }, "Similarity"))),
      el("tbody", {}, rows.map((r) => el("tr", { class: "clickable", onclick: () => openCustomer(r.user_id) },
        el("td", { class: "id" }, r.user_id),
        el("td", {}, r.user?.segment ? el("span", { class: "seg-pill", style: `--seg:${segColor(r.user.segment.id)}` }, el("span", { class: "dot" }), short(r.user.segment.name || "", 30)) : "–"),
        el("td", { class: "num" }, r.score.toFixed(2)))))));
  } catch (err) { similarBox.replaceChildren(el("div", { class: "note" }, err.message)); }
}

// ---------- pictures ----------
const LAYOUT = { margin: { l: 50, r: 10, t: 10, b: 40 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  font: { family: "system-ui, sans-serif", size: 12, color: "#344054" }, hoverlabel: { bgcolor: "#1d2433" } };
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

async function drawPictures() {
  if (state.picturesDrawn || !window.Plotly) return;
  state.picturesDrawn = true;
  try {
    const [map, charts] = await Promise.all([getJson("/api/map"), getJson("/api/charts")]);
    drawMap(map);
    drawSizes(charts.segments);
    for (const field of ["recency_days", "orders", "revenue"]) drawBoxes(field, charts.distributions[field]);
  } catch (err) { state.picturesDrawn = false; toast(err.message); }
}

function drawMap(map) {
  const groups = {};
  map.user_id.forEach((u, i) => { (groups[map.segment_id[i]] ||= []).push(i); });
  const order = state.segments.map((s) => s.id).filter((id) => groups[id]);
  const traces = order.map((id) => ({
    type: "scattergl", mode: "markers", name: short(segName(id), 28),
    x: groups[id].map((i) => map.x[i]), y: groups[id].map((i) => map.y[i]), customdata: groups[id].map((i) => map.user_id[i]),
    marker: { size: 6, color: segColor(id), opacity: 0.75 },
    hovertemplate: `%{customdata}<br>${segName(id).replace(/%/g, "%%")}<extra></extra>`,
  }));
  Plotly.newPlot("map", traces, { ...LAYOUT, margin: { l: 10, r: 10, t: 10, b: 10 },
    xaxis: { visible: false }, yaxis: { visible: false }, legend: { font: { size: 11 } } }, CONFIG);
  $("#map").on("plotly_click", (ev) => { const u = ev.points?.[0]?.customdata; if (u) openCustomer(u); });
  const missing = map.without_vectors ? ` ${nf.format(map.without_vectors)} customers without any searched, viewed or bought text are not shown.` : "";
  $("#map-note").textContent = `Each dot is a customer (${nf.format(map.shown)} of ${nf.format(map.total)}), placed by how close what they searched for, viewed and bought is to each segment's centre; close dots behave alike.${missing}`;
}

function drawSizes(segments) {
  const segs = segments.filter((s) => s.size > 0).slice().reverse();
  const names = segs.map((s) => short(s.name, 34));
  Plotly.newPlot("sizes", [
    { type: "bar", orientation: "h", name: "share of customers", y: names, x: segs.map((s) => s.share * 100), marker: { color: "#c7d2fe" },
      hovertemplate: "%{y}: %{x:.1f}% of customers<extra></extra>" },
    { type: "bar", orientation: "h", name: "share of revenue", y: names, x: segs.map((s) => s.revenue_share * 100), marker: { color: segs.map((s) => segColor(s.id)) },
      hovertemplate: "%{y}: %{x:.1f}% of revenue<extra></extra>" },
  ], { ...LAYOUT, barmode: "group", margin: { l: 230, r: 10, t: 10, b: 40 }, xaxis: { ticksuffix: "%", gridcolor: "#eef0f4" },
    legend: { orientation: "h", y: 1.06 } }, CONFIG);
}

function drawBoxes(field, rows) {
  const target = `dist-${field}`;
  if (!rows?.length) { $(`#${target}`).replaceChildren(el("div", { class: "empty" }, "No data")); return; }
  const traces = rows.map((r) => ({ type: "box", name: short(segName(r.id), 26), q1: [r.q25], median: [r.median], q3: [r.q75],
    lowerfence: [r.q05], upperfence: [r.q95], mean: [r.mean], x: [short(segName(r.id), 26)], marker: { color: segColor(r.id) },
    fillcolor: segColor(r.id) + "55", line: { color: segColor(r.id), width: 1.5 }, showlegend: false }));
  Plotly.newPlot(target, traces, { ...LAYOUT, margin: { l: 100, r: 10, t: 10, b: 120 }, xaxis: { tickangle: -35, tickfont: { size: 11 } },
    yaxis: { gridcolor: "#eef0f4", tickprefix: field === "revenue" ? state.summary?.currency || "" : "" } }, CONFIG);
}

// ---------- audit ----------
async function runAudit() {
  const attribute = $("#audit-attribute").value;
  if (!attribute) return;
  const question = $("#audit-question").value.trim();
  const params = new URLSearchParams({ attribute, ...(question ? { question } : {}) });
  $("#audit-note").replaceChildren(el("span", { class: "spinner" }));
  let doc;
  try { doc = await getJson(`/api/audit?${params}`); } catch (err) { $("#audit-note").textContent = err.message; return; }
  const segs = doc.segments.filter((s) => s.id !== "0");
  // Groups of under 1% of the shop are left out: a handful of customers makes any ratio extreme.
  const population = doc.population || {};
  const all = Object.keys(population).length ? Object.keys(population) : Object.keys(segs[0]?.ratios || {});
  const values = all.filter((v) => population[v] === undefined || population[v] >= 0.01)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const hidden = all.length - values.length;
  const shownFlags = (seg) => seg.flags.filter((v) => values.includes(v));
  const names = segs.map((s) => short(s.name || segName(s.id), 32));
  const z = segs.map((s) => values.map((v) => s.ratios[v] ?? null));
  const logz = z.map((row) => row.map((r) => (r === null ? null : Math.log2(Math.max(r, 0.125)))));
  Plotly.newPlot("audit-heatmap", [{ type: "heatmap", x: values, y: names, z: logz, customdata: z, zmid: 0, zmin: -2, zmax: 2,
    colorscale: [[0, "#b42318"], [0.45, "#fef3f2"], [0.5, "#ffffff"], [0.55, "#eef0ff"], [1, "#4f46e5"]],
    hovertemplate: "%{y}<br>%{x}: ×%{customdata:.2f} the shop's share<extra></extra>",
    colorbar: { title: { text: "× shop" }, tickvals: [-2, -1, 0, 1, 2], ticktext: ["¼", "½", "1", "2", "4"] } }],
  { ...LAYOUT, margin: { l: 230, r: 10, t: 10, b: 60 }, yaxis: { autorange: "reversed" } }, CONFIG);
  const flagged = segs.filter((s) => shownFlags(s).length);
  $("#audit-note").textContent = `${doc.attribute}${question ? ` among “${question}”` : ""}: ${flagged.length} of ${segs.length} segments have a flagged group.`
    + (hidden ? ` ${hidden} group${hidden === 1 ? "" : "s"} under 1% of customers not shown.` : "");
  $("#audit-flags").replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Segment"), el("th", {}, "Flagged groups"))),
    el("tbody", {}, flagged.map((s) => el("tr", {}, el("td", {}, s.name || segName(s.id)),
      el("td", {}, strongest(s, shownFlags(s)).map((v) => el("span", { class: s.ratios[v] > 1 ? "flag-up" : "flag-down" }, `${v} ×${Number(s.ratios[v]).toFixed(2)}`)).flatMap((x, i) => (i ? [" · ", x] : [x])),
        shownFlags(s).length > 4 ? el("span", { class: "note" }, ` and ${shownFlags(s).length - 4} more`) : null))))));
}

// The four flagged values furthest from the shop's share (by ratio, either way).
function strongest(seg, flags) {
  const distance = (v) => Math.abs(Math.log2(Math.max(seg.ratios[v] ?? 1, 0.01)));
  return flags.slice().sort((a, b) => distance(b) - distance(a)).slice(0, 4);
}

// ---------- start ----------
function init() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) { localStorage.setItem("segmint-token", fromHash); history.replaceState(null, "", location.pathname); }
  state.token = localStorage.getItem("segmint-token");
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => show(t.dataset.view)));
  $("#ask-form").addEventListener("submit", (ev) => { ev.preventDefault(); ask($("#question").value); $("#question").value = ""; });
  $("#user-form").addEventListener("submit", (ev) => { ev.preventDefault(); if ($("#user-id").value.trim()) openCustomer($("#user-id").value.trim()); });
  $("#audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); runAudit(); });
  $("#context-clear").addEventListener("click", () => { state.context = null; $("#context").classList.add("hidden"); $("#question").focus(); });
  $("#token-bar").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("#token-input").value.trim();
    localStorage.setItem("segmint-token", state.token);
    loadShop();
  });
  $("#suggestions").replaceChildren(el("span", { class: "note" }, "Try:"), ...SUGGESTIONS.map((q) => el("button", { class: "chip", type: "button", onclick: () => ask(q) }, q)));
  loadShop();
}
document.addEventListener("DOMContentLoaded", init);
