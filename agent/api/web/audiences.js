// segmint web app: audiences over time, segment comparison, overlap and trends (over /api/audiences,
// /api/compare, /api/overlap, /api/trend, /api/history). Uses el, api, getJson, toast, nf, pct,
// money, LAYOUT and CONFIG from app.js.
"use strict";

const audienceState = { loaded: false, names: [] };

// A name the server accepts (letters, digits, spaces and . ' & + -, at most 80), from the question:
// saving an answer is one click, and the name can still be edited first.
function audienceName(question) {
  return question.replace(/[^\p{L}\p{N}_ .'&+-]+/gu, " ").replace(/^[^\p{L}\p{N}_]+/u, "")
    .replace(/\s+/g, " ").trim().slice(0, 80).trim();
}

function saveAudienceForm(question, query) {
  const name = el("input", { type: "text", placeholder: "Name, e.g. lapsed VIPs", maxlength: "80",
    "data-testid": "audience-name", "aria-label": "audience name", value: audienceName(question) });
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
      form.replaceChildren(el("span", { class: "note", "data-testid": "audience-saved" },
        `Saved as audience “${doc.name}” (${nf.format(doc.size)} customers) — see the Audiences tab.`));
      audienceState.loaded = false;
    } catch (err) { toast(err.message); } finally { button.disabled = false; }
  });
  return form;
}

function sparkline(target, sizes) {
  Plotly.newPlot(target, [{ type: "scatter", mode: "lines+markers", x: sizes.map((s) => s.as_of.slice(0, 10)),
    y: sizes.map((s) => s.size), line: { color: "#4f46e5", width: 2 }, marker: { size: 6 },
    fill: "tozeroy", fillcolor: "rgba(79, 70, 229, 0.08)",
    hovertemplate: "%{x}: %{y:,} customers<extra></extra>" }],
  { ...LAYOUT, height: 60, margin: { l: 4, r: 4, t: 6, b: 4 }, xaxis: { visible: false },
    yaxis: { visible: false, rangemode: "tozero" } },
  { ...CONFIG, displayModeBar: false, staticPlot: false });
}

// Under the sparkline, in words: the first and the last recorded run, and the last change.
function sizesCaption(sizes) {
  if (!sizes.length) return "not evaluated yet";
  const first = sizes[0]; const last = sizes[sizes.length - 1];
  if (sizes.length === 1) return `${nf.format(last.size)} on ${last.as_of.slice(0, 10)} · one run so far`;
  return `${nf.format(first.size)} on ${first.as_of.slice(0, 10)} → ${nf.format(last.size)} on ${last.as_of.slice(0, 10)}`
    + ` · last run +${nf.format(last.entered)} −${nf.format(last.left)} · ${sizes.length} runs`;
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
    const source = a.source === "segment" ? a.question
      : a.source === "export" ? `an export of “${a.question}”` : `the question “${a.question}”`;
    const card = el("div", { class: "card audience", "data-testid": "audience-card" },
      el("div", { class: "card-head" }, el("b", { class: "name" }, a.name), el("span", { class: "size" },
        `${nf.format(a.sizes.length ? a.sizes[a.sizes.length - 1].size : 0)} customers`)),
      el("div", { class: "muted small" }, `from ${source}`, a.moves_with_as_of ? " · its window moves with each run's as_of" : ""),
      spark,
      el("div", { class: "muted small", "data-testid": "audience-sizes" }, sizesCaption(a.sizes)),
      el("div", { class: "row" },
        el("button", { class: "link", "data-testid": "audience-diff", onclick: () => showDiff(a.name) }, "Who entered and left"),
        el("button", { class: "link", "data-testid": "audience-trend", onclick: () => showTrend(a.name) }, "Trend")));
    card.dataset.audience = a.name;
    return card;
  }));
  doc.audiences.forEach((a, i) => { if (a.sizes.length) sparkline(`spark-${i}`, a.sizes); });
}

const DIFF_SHOWN = 50;

async function showDiff(name) {
  const box = $("#audience-detail");
  box.classList.remove("hidden");
  box.replaceChildren(el("p", { class: "muted" }, "Comparing with the previous run…"));
  try {
    const d = await getJson(`/api/audiences/${encodeURIComponent(name)}/diff`);
    const rows = [...d.entered.map((r) => ["entered", r]), ...d.left.map((r) => ["left", r])];
    const path = `/api/audiences/${encodeURIComponent(name)}`;
    box.replaceChildren(el("h2", {}, `${d.audience}: who entered and left since ${d.since.as_of.slice(0, 10)}`),
      el("p", { "data-testid": "diff-summary" }, el("b", {}, `${nf.format(d.entered_count)} entered, ${nf.format(d.left_count)} left`),
        el("span", { class: "muted" }, ` between the run of ${d.since.as_of.slice(0, 10)} and the run of ${d.now.as_of.slice(0, 10)}`)),
      rows.length ? el("table", { "data-testid": "diff" },
        el("thead", {}, el("tr", {}, el("th", {}, "change"), el("th", {}, "customer"), el("th", {}, "why"))),
        el("tbody", {}, rows.slice(0, DIFF_SHOWN).map(([change, r]) =>
          el("tr", { class: "clickable", onclick: () => openCustomer(r.user_id) },
            el("td", {}, el("span", { class: `badge ${change === "entered" ? "strong" : ""}` }, change)),
            el("td", { class: "id" }, r.user_id), el("td", { class: "note" }, r.why))))) : null,
      el("div", { class: "actions" },
        rows.length > DIFF_SHOWN ? el("span", { class: "note" }, `Showing ${DIFF_SHOWN} of ${nf.format(rows.length)}. `) : null,
        rows.length ? el("button", { "data-testid": "diff-export",
          onclick: () => downloadAudienceFile(`${path}/diff/export?format=csv`, `${name} changes.csv`) }, "Export who entered and left") : null,
        el("button", { "data-testid": "audience-export",
          onclick: () => downloadAudienceFile(`${path}/export?format=csv`, `${name}.csv`) }, "Export the audience now")));
  } catch (err) { box.replaceChildren(el("p", { class: "muted" }, err.message)); }
}

async function downloadAudienceFile(path, filename) {
  try {
    const res = await api(path);
    const link = el("a", { href: URL.createObjectURL(await res.blob()), download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    toast(`Downloaded ${filename}`);
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
    const currency = state.summary?.currency || "";
    Plotly.newPlot("trend-plot", [
      { type: "bar", name: "revenue", x: months, y: t.monthly.map((m) => m.revenue), marker: { color: "#c7d2fe" },
        hovertemplate: `%{x}: ${currency}%{y:,.0f}<extra>revenue</extra>` },
      { type: "scatter", mode: "lines+markers", name: "customers who bought", x: months, y: t.monthly.map((m) => m.customers),
        yaxis: "y2", line: { color: "#4f46e5" }, hovertemplate: "%{x}: %{y:,} customers<extra></extra>" },
    ], { ...LAYOUT, margin: { l: 70, r: 70, t: 30, b: 40 }, xaxis: { type: "category" },
      // The overlaying axis is drawn on top: revenue bars on the left axis, the customers line on the right.
      yaxis: { title: { text: "revenue" }, tickprefix: currency, rangemode: "tozero" },
      yaxis2: { side: "right", overlaying: "y", title: { text: "customers who bought" }, rangemode: "tozero",
        showgrid: false, tickmode: "auto", nticks: 6 },
      legend: { orientation: "h", y: 1.12 } }, CONFIG);
    Plotly.newPlot("cohort-plot", [{ type: "heatmap", x: t.cohorts[0]?.retained.map((_, k) => `${k + 1} mo`) || [],
      // A month after the data ends is null (not yet observed): left blank, never drawn as 0%.
      y: t.cohorts.map((c) => `${c.cohort} (${nf.format(c.customers)})`), z: t.cohorts.map((c) => c.retained.map((v) => (v === null ? null : v * 100))),
      colorscale: [[0, "#f5f6ff"], [1, "#3730a3"]], zmin: 0, zmax: 100, hoverongaps: false,
      colorbar: { ticksuffix: "%", title: { text: "bought again" } },
      text: t.cohorts.map((c) => c.retained.map((v) => (v === null ? "" : `${Math.round(v * 100)}%`))),
      texttemplate: "%{text}", textfont: { size: 10 },
      hovertemplate: "first order %{y}, %{x} later: %{z:.0f}% bought again<extra></extra>" }],
    { ...LAYOUT, margin: { l: 120, r: 10, t: 10, b: 50 },
      xaxis: { type: "category", title: { text: "months after the first order" } },
      yaxis: { type: "category", title: { text: "" } } }, CONFIG);
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
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", { class: "num" }, d.a.label), el("th", { class: "num" }, d.b.label))),
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
    const labels = d.targets.map((t) => `${short(t.label, 34)} (${nf.format(t.size)})`);
    // Each cell: the customers in both (a target's own size on the diagonal), coloured by Jaccard.
    const both = d.targets.map((t) => d.targets.map(() => 0));
    d.targets.forEach((t, i) => { both[i][i] = t.size; });
    let k = 0;
    for (let i = 0; i < d.targets.length; i += 1) {
      for (let j = i + 1; j < d.targets.length; j += 1) { both[i][j] = both[j][i] = d.pairs[k].both; k += 1; }
    }
    const plot = $("#overlap-plot");
    plot.classList.remove("hidden");
    Plotly.newPlot(plot, [{ type: "heatmap", x: labels, y: labels, z: d.matrix, zmin: 0, zmax: 1,
      colorscale: [[0, "#f5f6ff"], [1, "#3730a3"]], colorbar: { title: { text: "Jaccard" } },
      text: both.map((row) => row.map((n) => nf.format(n))), texttemplate: "%{text}",
      hovertemplate: "%{y} and %{x}: %{text} in both, Jaccard %{z:.2f}<extra></extra>" }],
    { ...LAYOUT, margin: { l: 10, r: 10, t: 10, b: 10 }, xaxis: { automargin: true, side: "top" },
      yaxis: { automargin: true, autorange: "reversed" } }, CONFIG);
    $("#overlap-pairs").replaceChildren(...d.pairs.map((p) => el("li", {},
      `${p.a} ∩ ${p.b}: ${nf.format(p.both)} (${pct(p.share_of_a)} of the first, ${pct(p.share_of_b)} of the second)`)));
  } catch (err) { toast(err.message); }
}

function initAudiences() {
  document.querySelector('.tab[data-view="audiences"]').addEventListener("click", () => { if (!audienceState.loaded) loadAudiences(); });
  $("#compare-form").addEventListener("submit", (ev) => { ev.preventDefault(); runCompare(); });
  $("#overlap-form").addEventListener("submit", (ev) => { ev.preventDefault(); runOverlap(); });
  $("#overlap-plot").classList.add("hidden");  // an empty picture until there is an overlap to draw
}
document.addEventListener("DOMContentLoaded", initAudiences);
