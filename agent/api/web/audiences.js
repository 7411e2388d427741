// segmint web app: audiences over time, segment comparison, overlap and trends (over /api/audiences,
// /api/compare, /api/overlap, /api/trend, /api/history). Uses el, api, getJson, toast, nf, pct,
// money, LAYOUT and CONFIG from app.js.
"use strict";

const audienceState = { loaded: false, names: [] };

function saveAudienceForm(question, query) {
  const name = el("input", { type: "text", placeholder: "Name, e.g. lapsed VIPs", maxlength: "80",
    "data-testid": "audience-name", "aria-label": "audience name" });
  const button = el("button", { class: "primary", type: "submit", "data-testid": "audience-save" }, "Save as audience");
  const form = el("form", { class: "ask-form narrow audience-save" }, name, button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) { toast("Give the audience a name"); return; }
    button.disabled = true;
    try {
      const res = await api("/api/audiences", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: name.value.trim(), question, query }) });
      const doc = await res.json();
      toast(`Saved audience “${doc.name}”: ${nf.format(doc.size)} customers now`);
      audienceState.loaded = false;
    } catch (err) { toast(err.message); } finally { button.disabled = false; }
  });
  return form;
}

function sparkline(target, sizes) {
  Plotly.newPlot(target, [{ type: "scatter", mode: "lines+markers", x: sizes.map((s) => s.as_of.slice(0, 10)),
    y: sizes.map((s) => s.size), line: { color: "#4f46e5", width: 2 }, marker: { size: 5 },
    hovertemplate: "%{x}: %{y:,} customers<extra></extra>" }],
  { ...LAYOUT, height: 60, margin: { l: 0, r: 0, t: 4, b: 4 }, xaxis: { visible: false }, yaxis: { visible: false } },
  { ...CONFIG, displayModeBar: false, staticPlot: false });
}

async function loadAudiences() {
  const box = $("#audience-list");
  let doc;
  try { doc = await getJson("/api/audiences"); } catch (err) { box.replaceChildren(el("div", { class: "empty" }, err.message)); return; }
  audienceState.loaded = true;
  audienceState.names = doc.audiences.map((a) => a.name);
  if (!doc.audiences.length) {
    box.replaceChildren(el("div", { class: "empty" }, "No audience saved yet: ask a question, then “Save as audience”."));
    return;
  }
  box.replaceChildren(...doc.audiences.map((a, i) => {
    const spark = el("div", { class: "spark", id: `spark-${i}` });
    const card = el("div", { class: "card audience", "data-testid": "audience-card" },
      el("div", { class: "card-head" }, el("b", {}, a.name), el("span", { class: "muted small" },
        `${nf.format(a.sizes.length ? a.sizes[a.sizes.length - 1].size : 0)} customers`)),
      el("div", { class: "muted small" }, a.question, a.moves_with_as_of ? " · moves with each run's as_of" : ""),
      spark,
      el("div", { class: "row" },
        el("button", { class: "link", "data-testid": "audience-diff", onclick: () => showDiff(a.name) }, "Who entered and left"),
        el("button", { class: "link", onclick: () => showTrend(a.name) }, "Trend")));
    return card;
  }));
  doc.audiences.forEach((a, i) => { if (a.sizes.length) sparkline(`spark-${i}`, a.sizes); });
}

async function showDiff(name) {
  const box = $("#audience-detail");
  box.classList.remove("hidden");
  try {
    const d = await getJson(`/api/audiences/${encodeURIComponent(name)}/diff`);
    const rows = [...d.entered.map((r) => ["entered", r]), ...d.left.map((r) => ["left", r])];
    box.replaceChildren(el("h2", {}, `${d.audience} since ${d.since.as_of.slice(0, 10)}`),
      el("p", { "data-testid": "diff-summary" }, `${nf.format(d.entered_count)} entered, ${nf.format(d.left_count)} left`),
      el("table", { "data-testid": "diff" }, el("tbody", {}, rows.slice(0, 50).map(([change, r]) =>
        el("tr", { class: "clickable", onclick: () => openCustomer(r.user_id) },
          el("td", {}, change), el("td", { class: "id" }, r.user_id), el("td", { class: "note" }, r.why))))),
      el("a", { class: "link", "data-testid": "audience-export", href: "#", onclick: (ev) => { ev.preventDefault(); downloadAudience(name); } },
        "Export the audience now"));
  } catch (err) { box.replaceChildren(el("p", { class: "muted" }, err.message)); }
}

async function downloadAudience(name) {
  try {
    const res = await api(`/api/audiences/${encodeURIComponent(name)}/export?format=csv`);
    const link = el("a", { href: URL.createObjectURL(await res.blob()), download: `${name}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    toast(`Downloaded ${name}.csv`);
  } catch (err) { toast(err.message); }
}

async function showTrend(target) {
  const box = $("#audience-detail");
  box.classList.remove("hidden");
  box.replaceChildren(el("h2", {}, `Trend: ${target}`), el("div", { id: "trend-plot", class: "plot", "data-testid": "trend" }),
    el("h2", {}, "First-order cohorts: share buying again"), el("div", { id: "cohort-plot", class: "plot tall", "data-testid": "cohorts" }));
  try {
    const t = await getJson(`/api/trend?${new URLSearchParams({ target })}`);
    const months = t.monthly.map((m) => m.month);
    Plotly.newPlot("trend-plot", [
      { type: "bar", name: "revenue", x: months, y: t.monthly.map((m) => m.revenue), marker: { color: "#c7d2fe" }, yaxis: "y2" },
      { type: "scatter", mode: "lines+markers", name: "customers", x: months, y: t.monthly.map((m) => m.customers), line: { color: "#4f46e5" } },
    ], { ...LAYOUT, yaxis: { title: "customers" }, yaxis2: { overlaying: "y", side: "right", title: "revenue" },
      legend: { orientation: "h", y: 1.1 } }, CONFIG);
    Plotly.newPlot("cohort-plot", [{ type: "heatmap", x: t.cohorts[0]?.retained.map((_, k) => `+${k + 1}`) || [],
      y: t.cohorts.map((c) => `${c.cohort} (${nf.format(c.customers)})`), z: t.cohorts.map((c) => c.retained.map((v) => v * 100)),
      colorscale: "Blues", hovertemplate: "%{y}, month %{x}: %{z:.0f}%<extra></extra>" }],
    { ...LAYOUT, margin: { l: 120, r: 10, t: 10, b: 40 } }, CONFIG);
  } catch (err) { box.append(el("p", { class: "muted" }, err.message)); }
}

async function runCompare() {
  const a = $("#compare-a").value.trim(); const b = $("#compare-b").value.trim();
  const box = $("#compare-result");
  if (!a || !b) { toast("Name two segments, audiences or questions"); return; }
  try {
    const d = await getJson(`/api/compare?${new URLSearchParams({ a, b })}`);
    const line = (label, x, y) => el("tr", {}, el("td", {}, label), el("td", { class: "num" }, x), el("td", { class: "num" }, y));
    box.replaceChildren(el("table", { "data-testid": "compare" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, d.a.label), el("th", {}, d.b.label))),
      el("tbody", {},
        line("customers", nf.format(d.a.size), nf.format(d.b.size)),
        line("median revenue", money(d.a.median_revenue), money(d.b.median_revenue)),
        line("median orders", nf.format(d.a.median_orders ?? 0), nf.format(d.b.median_orders ?? 0)),
        Object.keys(d.a.lifecycle).map((k) => line(k, pct(d.a.lifecycle[k]), pct(d.b.lifecycle[k]))))),
    el("h2", {}, "Differs most"),
    el("ul", { "data-testid": "differs" }, d.differs_most.map((g) => el("li", {}, `${g.what}: ${pct(g.a)} vs ${pct(g.b)}`))),
    el("p", { class: "muted small" }, `In both: ${nf.format(d.overlap.both)} (Jaccard ${d.overlap.jaccard.toFixed(2)})`));
  } catch (err) { box.replaceChildren(el("p", { class: "muted" }, err.message)); }
}

async function runOverlap() {
  const targets = $("#overlap-targets").value.split(";").map((t) => t.trim()).filter(Boolean);
  if (targets.length < 2) { toast("Give two or more, separated by ;"); return; }
  try {
    const query = new URLSearchParams(targets.map((t) => ["target", t]));
    const d = await getJson(`/api/overlap?${query}`);
    const labels = d.targets.map((t) => `${t.label} (${nf.format(t.size)})`);
    Plotly.newPlot("overlap-plot", [{ type: "heatmap", x: labels, y: labels, z: d.matrix, colorscale: "Purples", zmin: 0, zmax: 1,
      hovertemplate: "%{y} × %{x}: Jaccard %{z:.2f}<extra></extra>" }],
    { ...LAYOUT, margin: { l: 200, r: 10, t: 10, b: 120 } }, CONFIG);
    $("#overlap-pairs").replaceChildren(...d.pairs.map((p) => el("li", {},
      `${p.a} ∩ ${p.b}: ${nf.format(p.both)} (${pct(p.share_of_a)} of the first, ${pct(p.share_of_b)} of the second)`)));
  } catch (err) { toast(err.message); }
}

function initAudiences() {
  document.querySelector('.tab[data-view="audiences"]').addEventListener("click", () => { if (!audienceState.loaded) loadAudiences(); });
  $("#compare-form").addEventListener("submit", (ev) => { ev.preventDefault(); runCompare(); });
  $("#overlap-form").addEventListener("submit", (ev) => { ev.preventDefault(); runOverlap(); });
}
document.addEventListener("DOMContentLoaded", initAudiences);
