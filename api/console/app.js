// streamview console: a small app over the JSON API (see /v1/openapi.json).
// No framework and no build step: views render into <main id="app"> by the
// location hash (#/search, #/product/ID, #/projections, #/dead-letters/NAME).
"use strict";

const TOKEN_KEY = "streamview.token";
const app = document.getElementById("app");
const banner = document.getElementById("banner");
let refreshTimer = null; // the projections page refreshes itself

// h builds an element: h("a", {href: "#"}, "text", child...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "width") el.style.width = v;
    else if (k === "height") el.style.height = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// fill replaces el's children with nodes, skipping the empty ones.
function fill(el, ...nodes) {
  el.replaceChildren(...nodes.flat(Infinity).filter(n => n !== null && n !== undefined && n !== false && n !== ""));
}

function show(...nodes) {
  fill(app, ...nodes);
}

function say(msg, kind) {
  if (!msg) {
    banner.hidden = true;
    banner.textContent = "";
    return;
  }
  banner.hidden = false;
  banner.className = "banner" + (kind ? " " + kind : "");
  banner.textContent = msg;
}

// api calls the JSON API with the session's token; it resolves to
// {status, body, headers, text} (text: the body as sent, for a page that
// reads no JSON) and never rejects: not on an HTTP error status, nor when
// the server cannot be reached (status 0, the reason in body.detail, so
// that a page shows it as it shows a problem). opts.timeout (ms) gives up
// on a server that does not answer.
async function api(path, opts) {
  opts = opts || {};
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  let resp, text;
  try {
    resp = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.timeout ? AbortSignal.timeout(opts.timeout) : undefined });
    text = await resp.text();
  } catch (err) {
    const why = err.name === "TimeoutError" ? "no answer within " + opts.timeout / 1000 + " s" : err.message;
    return { status: 0, body: { detail: "cannot reach the server: " + why }, headers: new Headers(), text: "" };
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { detail: text }; }
  }
  if (resp.status === 401) say("Sign in: paste a bearer token in the Token field (top right).");
  else if (resp.status === 403) say("Your token lacks the scope this page needs (" + (data && data.detail || "forbidden") + ").");
  return { status: resp.status, body: data, headers: resp.headers, text };
}

function problemText(r) {
  const b = r.body || {};
  let s = (b.detail || b.title || "HTTP " + r.status);
  if (Array.isArray(b.errors) && b.errors.length) s += " " + b.errors.map(e => (e.field ? e.field + ": " : "") + e.message).join("; ");
  return s;
}

// Minor-unit digits of the currencies whose digits are not 2.
const MINOR = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3 };
function minorMoney(m) {
  if (!m || typeof m.amount !== "number") return "";
  const d = MINOR[m.currency] === undefined ? 2 : MINOR[m.currency];
  return (m.amount / Math.pow(10, d)).toFixed(d) + " " + m.currency;
}
function money(p) { return p ? p.amount + " " + p.currency : ""; }
function num(n) { return (n || 0).toLocaleString("en-US"); }
function when(s) {
  if (!s) return "";
  const d = new Date(s);
  return isNaN(d) ? s : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach(x => u.append(k, x));
    else if (v !== undefined && v !== null && v !== "") u.set(k, v);
  }
  return u.toString();
}

// ---- routing ----

function route() {
  clearInterval(refreshTimer);
  refreshTimer = null;
  say("");
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  const page = parts[0] || "search";
  document.querySelectorAll("[data-nav]").forEach(a => a.classList.toggle("active", a.dataset.nav === (page === "product" ? "search" : page)));
  const views = { search: () => searchPage(params), product: () => productPage(parts[1]), projections: projectionsPage, "dead-letters": () => deadLettersPage(parts[1]), metrics: () => metricsPage(params) };
  const view = views[page] || views.search;
  Promise.resolve(view()).catch(err => say("The console failed: " + err.message));
}

// ---- catalogue search ----

async function searchPage(params) {
  const state = {
    q: params.get("q") || "", category: params.getAll("category"), brand: params.getAll("brand"),
    minPrice: params.get("minPrice") || "", maxPrice: params.get("maxPrice") || "",
    inStock: params.get("inStock") || "", sort: params.get("sort") || "", page: params.get("page") || "1", pageSize: "20",
  };
  const go = (changes) => {
    const next = Object.assign({}, state, changes);
    if (!("page" in changes)) next.page = "1";
    delete next.pageSize;
    if (next.page === "1") delete next.page;
    location.hash = "#/search?" + qs(next);
  };

  const q = h("input", { type: "search", id: "q", placeholder: "Search name, description, tags, brand, category…", value: state.q });
  const sort = h("select", { id: "sort", onchange: () => go({ sort: sort.value }) },
    [["", "Sort: default"], ["relevance", "Relevance"], ["newest", "Newest"], ["price_asc", "Price ↑"], ["price_desc", "Price ↓"], ["rating", "Rating"]]
      .map(([v, l]) => h("option", { value: v, selected: v === state.sort }, l)));
  const total = h("span", { id: "total", class: "muted" }, "…");
  const form = h("form", { class: "toolbar", id: "search-form", onsubmit: (e) => { e.preventDefault(); go({ q: q.value.trim() }); } },
    q, h("button", { type: "submit", id: "search-go" }, "Search"), sort, h("span", { class: "spacer" }), total);
  const facets = h("aside", { class: "side panel", id: "facets" }, h("div", { class: "muted" }, "Loading facets…"));
  const results = h("div", { class: "panel grow", id: "results-panel" }, h("div", { class: "empty" }, "Searching…"));
  show(form, h("div", { class: "row" }, facets, results));

  const r = await api("/v1/products/search?" + qs(state));
  // Another search (or page) replaced this one while it waited: its late
  // answer must not show on the page now there.
  if (!form.isConnected) return;
  if (r.status !== 200) {
    fill(results, h("div", { class: "empty" }, "Search failed: " + problemText(r)));
    fill(facets, );
    total.textContent = "";
    return;
  }
  const res = r.body;
  total.textContent = num(res.total) + " products";

  const facetBox = (title, id, buckets, selected, key) => h("div", { class: "facet", id: "facet-" + id },
    h("h3", {}, title),
    buckets.length ? buckets.map(b => h("label", {},
      h("input", { type: "checkbox", value: b.value, checked: selected.includes(b.value),
        onchange: (e) => go({ [key]: e.target.checked ? selected.concat(b.value) : selected.filter(x => x !== b.value) }) }),
      h("span", {}, b.label || b.value), h("span", { class: "count" }, num(b.count)))) : h("div", { class: "muted" }, "—"));
  const minP = h("input", { type: "text", id: "min-price", placeholder: "min", value: state.minPrice, inputmode: "decimal" });
  const maxP = h("input", { type: "text", id: "max-price", placeholder: "max", value: state.maxPrice, inputmode: "decimal" });
  fill(facets, 
    facetBox("Category", "category", res.facets.category || [], state.category, "category"),
    facetBox("Brand", "brand", res.facets.brand || [], state.brand, "brand"),
    h("div", { class: "facet", id: "facet-price" }, h("h3", {}, "Price"),
      (res.facets.price || []).map(b => h("label", {},
        h("input", { type: "radio", name: "band", checked: state.minPrice === (b.from || "") && state.maxPrice === (b.to || ""),
          onchange: () => go({ minPrice: b.from || "", maxPrice: b.to || "" }) }),
        h("span", {}, (b.from || "0") + (b.to ? " – " + b.to : " +")), h("span", { class: "count" }, num(b.count)))),
      h("form", { class: "range", onsubmit: (e) => { e.preventDefault(); go({ minPrice: minP.value.trim(), maxPrice: maxP.value.trim() }); } },
        minP, maxP, h("button", { type: "submit", class: "secondary" }, "Go"))),
    h("div", { class: "facet" }, h("h3", {}, "Availability"),
      h("label", {}, h("input", { type: "checkbox", id: "in-stock", checked: state.inStock === "true", onchange: (e) => go({ inStock: e.target.checked ? "true" : "" }) }), "In stock only")),
    (state.category.length || state.brand.length || state.minPrice || state.maxPrice || state.inStock) ?
      h("button", { class: "secondary", onclick: () => go({ category: [], brand: [], minPrice: "", maxPrice: "", inStock: "" }) }, "Clear filters") : null);

  if (!res.products.length) {
    fill(results, h("div", { class: "empty" }, "No products match."));
    return;
  }
  const page = res.page || 1;
  const pages = Math.max(1, Math.ceil(res.total / res.pageSize));
  fill(results, 
    h("table", { id: "results" },
      h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", {}, "Brand"), h("th", {}, "Category"), h("th", { class: "num" }, "Price"), h("th", { class: "num" }, "Rating"), h("th", {}, "Stock"))),
      h("tbody", {}, res.products.map(p => h("tr", { dataset: { id: p.id } },
        h("td", {}, h("a", { class: "product-link", href: "#/product/" + p.id }, p.name)),
        h("td", {}, p.brandName), h("td", {}, p.categoryName),
        h("td", { class: "num price" }, money(p.price)),
        h("td", { class: "num" }, p.reviewCount ? p.averageRating.toFixed(2) + " (" + p.reviewCount + ")" : "—"),
        h("td", {}, p.inStock ? h("span", { class: "badge live" }, "in stock") : h("span", { class: "badge" }, "out")))))),
    h("div", { class: "pager" },
      h("button", { class: "secondary", id: "prev-page", disabled: page <= 1, onclick: () => go({ page: String(page - 1) }) }, "← Prev"),
      h("span", { class: "muted" }, "Page " + page + " of " + num(pages)),
      h("button", { class: "secondary", id: "next-page", disabled: page >= pages || page * res.pageSize >= 10000, onclick: () => go({ page: String(page + 1) }) }, "Next →")));
}

// ---- product ----

const VIEW_FIELDS = [
  ["name", "Name"], ["description", "Description"], ["price", "Price", money], ["stock", "Stock"], ["inStock", "In stock", v => v ? "yes" : "no"],
  ["categoryName", "Category", (v, p) => v + " (" + p.categoryId + ")"], ["brandName", "Brand", (v, p) => v + " (" + p.brandId + ")"],
  ["averageRating", "Rating", (v, p) => p.reviewCount ? v.toFixed(2) + " from " + p.reviewCount + " reviews" : "no reviews"],
  ["tags", "Tags", v => (v || []).join(", ") || "—"], ["discontinued", "Discontinued", v => v ? "yes" : "no"],
  ["createdAt", "Created", when], ["updatedAt", "Updated", when], ["version", "Version"],
];

function viewList(p, compare, prefix) {
  return h("dl", { class: "kv" }, VIEW_FIELDS.map(([k, label, fmt]) => {
    const text = fmt ? fmt(p[k], p) : String(p[k]);
    const changed = compare && JSON.stringify(p[k]) !== JSON.stringify(compare[k]);
    return [h("dt", {}, label), h("dd", { id: prefix + "-" + k, class: changed ? "changed" : null }, text)];
  }));
}

// changedFields lists the fields an event carries, leaving out the null
// ones: ProductDetailsUpdated sends null for a list it leaves unchanged,
// and only the fields that changed otherwise.
function changedFields(d) {
  const shown = (v) => Array.isArray(v) ? (v.length ? v.join(", ") : "(cleared)")
    : typeof v === "object" ? JSON.stringify(v, (k, x) => x === null ? undefined : x) : String(v);
  return Object.entries(d).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => k + ": " + shown(v)).join("; ") || "no change";
}

function eventSummary(e) {
  const d = e.data || {};
  switch (e.eventType) {
    case "ProductCreated": return d.name + " at " + minorMoney(d.price) + ", stock " + (d.stock || 0);
    case "ProductPriceChanged": return minorMoney(d.oldPrice) + " → " + minorMoney(d.newPrice);
    case "ProductStockChanged": return "stock " + d.quantity;
    case "ProductReviewAdded": return d.rating + "★ by " + d.userId + (d.comment ? ": " + d.comment : "");
    case "ProductDiscontinued": return d.reason || "discontinued";
    default: return changedFields(d);
  }
}

async function productPage(id) {
  if (!id) { location.hash = "#/search"; return; }
  const head = h("div", { class: "panel" }, h("div", { class: "muted" }, "Loading product…"));
  const viewPanel = h("div", { class: "panel grow", id: "view" });
  const asofPanel = h("div", { class: "panel grow", id: "asof-panel" });
  const histPanel = h("div", { class: "panel", id: "history-panel" });
  show(head, h("div", { class: "row" }, viewPanel, asofPanel), histPanel);

  let current = null;
  let history = [];
  let lastResult = "";

  async function loadView(minVersion) {
    const r = await api("/v1/products/" + encodeURIComponent(id) + (minVersion ? "?minVersion=" + minVersion + "&wait=10" : ""));
    if (r.status !== 200) {
      fill(head, h("h1", {}, "Product " + id), h("div", { class: "result bad" }, problemText(r)));
      return false;
    }
    current = r.body;
    fill(head, 
      h("div", { class: "toolbar" },
        h("div", { class: "grow" }, h("h1", { id: "product-name" }, current.name), h("div", { class: "muted mono" }, current.id)),
        h("span", { class: "badge ver", id: "view-version" }, "v" + current.version),
        current.discontinued ? h("span", { class: "badge bad" }, "discontinued") : null,
        h("span", { class: "price-big", id: "view-price" }, money(current.price))),
      commandForms());
    fill(viewPanel, h("h2", {}, "Current view"), viewList(current, null, "view"));
    return true;
  }

  function commandForms() {
    const amount = h("input", { type: "text", id: "price-amount", value: current.price.amount, size: 8, inputmode: "decimal", required: true });
    const qty = h("input", { type: "number", id: "stock-qty", value: current.stock, min: 0, step: 1, required: true });
    // The forms are drawn again with the view: keep the last outcome.
    const result = h("div", { class: "result" + (lastResult ? " ok" : ""), id: "command-result" }, lastResult);
    lastResult = "";
    const send = async (path, body, btn) => {
      btn.disabled = true;
      result.className = "result";
      result.textContent = "Sending…";
      const r = await api(path, { method: "PUT", json: body, headers: { "Prefer": "wait=10", "If-Match": '"' + current.version + '"' } });
      btn.disabled = false;
      if (r.status === 200) {
        lastResult = "Accepted: version " + r.body.version + ".";
        await refresh(r.body.version);
      } else if (r.status === 202) {
        result.textContent = "Pending: the decider has not answered yet (" + r.body.commandId + ").";
      } else {
        result.className = "result bad";
        result.textContent = (r.status ? "Rejected: " : "") + problemText(r);
      }
    };
    // Categories and brands are aggregates of their own: a rename is
    // theirs (no If-Match of the product's version), and reaches the view
    // through the read-time join, without a new product version.
    const rename = async (kind, refId, input, btn) => {
      const name = input.value.trim();
      btn.disabled = true;
      result.className = "result";
      result.textContent = "Sending…";
      const r = await api("/v1/" + kind + "/" + encodeURIComponent(refId), { method: "PUT", json: { name }, headers: { "Prefer": "wait=10" } });
      btn.disabled = false;
      if (r.status !== 200 && r.status !== 201) {
        result.className = "result" + (r.status === 202 ? "" : " bad");
        result.textContent = r.status === 202 ? "Pending: the decider has not answered yet (" + r.body.commandId + ")." : (r.status ? "Rejected: " : "") + problemText(r);
        return;
      }
      const field = kind === "categories" ? "categoryName" : "brandName";
      for (let i = 0; i < 40; i++) { // the view store follows the events
        const v = await api("/v1/products/" + encodeURIComponent(id));
        if (v.status === 200 && v.body[field] === name) break;
        await new Promise(res => setTimeout(res, 250));
      }
      lastResult = (kind === "categories" ? "Category " : "Brand ") + refId + " renamed: its version " + r.body.version + ".";
      await refresh(current.version);
    };
    const catName = h("input", { type: "text", id: "category-name", value: current.categoryName, size: 14, maxlength: 200, required: true });
    const brandName = h("input", { type: "text", id: "brand-name", value: current.brandName, size: 14, maxlength: 200, required: true });
    const catBtn = h("button", { type: "submit", id: "category-go" }, "Rename category");
    const brandBtn = h("button", { type: "submit", id: "brand-go" }, "Rename brand");
    const priceBtn = h("button", { type: "submit", id: "price-go" }, "Change price");
    const stockBtn = h("button", { type: "submit", id: "stock-go" }, "Set stock");
    return h("div", {},
      h("div", { class: "forms" },
        h("form", { id: "price-form", onsubmit: (e) => { e.preventDefault(); send("/v1/products/" + id + "/price", { price: { amount: amount.value.trim(), currency: current.price.currency } }, priceBtn); } },
          h("label", {}, "Price (" + current.price.currency + ")", amount), priceBtn),
        h("form", { id: "stock-form", onsubmit: (e) => { e.preventDefault(); send("/v1/products/" + id + "/stock", { quantity: Number(qty.value) }, stockBtn); } },
          h("label", {}, "Stock", qty), stockBtn),
        h("form", { id: "category-form", onsubmit: (e) => { e.preventDefault(); rename("categories", current.categoryId, catName, catBtn); } },
          h("label", {}, "Category " + current.categoryId, catName), catBtn),
        h("form", { id: "brand-form", onsubmit: (e) => { e.preventDefault(); rename("brands", current.brandId, brandName, brandBtn); } },
          h("label", {}, "Brand " + current.brandId, brandName), brandBtn)),
      result);
  }

  async function loadHistory(minVersion) {
    // The history index follows the events like the view: wait for it.
    for (let i = 0; i < 40; i++) {
      const all = [];
      let from = 1;
      let r;
      do {
        r = await api("/v1/products/" + encodeURIComponent(id) + "/events?limit=1000&fromVersion=" + from);
        if (r.status !== 200) break;
        all.push(...r.body.events);
        from = r.body.nextFromVersion;
      } while (from);
      if (r.status === 200 && (!minVersion || all.length >= minVersion)) {
        history = all;
        return true;
      }
      if (r.status !== 200 && r.status !== 404 && r.status !== 503) {
        fill(histPanel, h("h2", {}, "History"), h("div", { class: "result bad" }, problemText(r)));
        return false;
      }
      await new Promise(res => setTimeout(res, 250));
    }
    return false;
  }

  function renderHistory(selected) {
    fill(histPanel, h("h2", {}, "History ", h("span", { class: "muted" }, "(" + history.length + " events, from Kafka)")),
      h("table", { id: "history" },
        h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Version"), h("th", {}, "Event"), h("th", {}, "Time"), h("th", {}, "Change"), h("th", {}, "Command"), h("th", {}, "User"))),
        h("tbody", {}, history.slice().reverse().map(e => h("tr", { dataset: { version: e.version }, class: e.version === selected ? "current" : null },
          h("td", { class: "num" }, e.version), h("td", {}, e.eventType), h("td", { class: "mono" }, when(e.timestamp)),
          h("td", { class: "data" }, eventSummary(e)), h("td", { class: "mono", title: e.metadata.correlationId }, (e.metadata.causationId || "").slice(0, 8)),
          h("td", {}, e.metadata.userId || "—"))))));
  }

  async function renderAsOf(version) {
    const max = current.version;
    const slider = h("input", { type: "range", id: "asof", min: 1, max: max, step: 1, value: version });
    const label = h("span", { id: "asof-label", class: "badge ver" }, "v" + version);
    const body = h("div", { id: "asof-view" }, h("div", { class: "muted" }, "Loading…"));
    let seq = 0;
    const load = async (v) => {
      const mine = ++seq;
      label.textContent = "v" + v;
      const r = await api("/v1/products/" + encodeURIComponent(id) + "?asOfVersion=" + v);
      if (mine !== seq) return; // a later move of the slider won
      if (r.status !== 200) {
        fill(body, h("div", { class: "result bad" }, problemText(r)));
        return;
      }
      fill(body, viewList(r.body, current, "asof"));
      body.dataset.version = String(r.body.version);
      renderHistory(v);
    };
    slider.addEventListener("input", () => load(Number(slider.value)));
    slider.addEventListener("change", () => load(Number(slider.value)));
    fill(asofPanel, h("h2", {}, "As of version"),
      h("div", { class: "slider" }, h("span", { class: "muted" }, "v1"), slider, h("span", { class: "muted" }, "v" + max), label),
      body);
    await load(version);
  }

  async function refresh(minVersion) {
    if (!(await loadView(minVersion))) return;
    if (!(await loadHistory(current.version))) {
      fill(histPanel, h("h2", {}, "History"), h("div", { class: "muted" }, "The history index has not caught up yet; reload in a moment."));
      fill(asofPanel, h("h2", {}, "As of version"), h("div", { class: "muted" }, "Waiting for the history index."));
      return;
    }
    await renderAsOf(current.version);
  }
  await refresh(0);
}

// ---- projections ----

async function projectionsPage() {
  const table = h("div", { id: "projections-body" }, h("div", { class: "empty" }, "Loading…"));
  const updated = h("span", { class: "muted", id: "projections-updated" });
  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true });
  const result = h("div", { class: "result", id: "ops-result" });
  const notice = h("div", { class: "result bad", id: "projections-notice", hidden: true });
  show(h("div", { class: "panel" },
    h("div", { class: "toolbar" }, h("h1", {}, "Projections"), h("span", { class: "spacer" }), updated,
      h("label", {}, auto, " refresh every 2 s"), h("button", { class: "secondary", id: "projections-refresh", onclick: () => load() }, "Refresh")),
    notice, result, table));

  const act = async (method, name) => {
    result.className = "result";
    result.textContent = (method === "POST" ? "Starting a rebuild of " : "Aborting the rebuild of ") + name + "…";
    const r = await api("/v1/projections/" + encodeURIComponent(name) + "/rebuild", { method });
    if (r.status === 202 || r.status === 200) {
      result.className = "result ok";
      result.textContent = method === "DELETE" ? "Rebuild of " + name + " aborted (generation " + r.body.generation + ")."
        : r.body.status === "retiring" ? "Rebuild of " + name + ": " + r.body.detail + "."
        : "Rebuild of " + name + " started; progress below.";
    } else {
      result.className = "result bad";
      result.textContent = problemText(r);
    }
    load();
  };

  let started = 0; // loads begun
  let answered = 0; // the latest load whose answer shows
  let busy = false; // a load waits for its answer
  let readAt = ""; // when the data shown was read; "" before any
  // A failed load keeps the last data, marked stale, and says why: the
  // timer tries again, and the page recovers by itself once the server
  // answers.
  const failed = (r) => {
    if (readAt) {
      table.classList.add("stale");
      updated.textContent = "stale: updated " + readAt;
    } else {
      fill(table, h("div", { class: "empty" }, "No data yet."));
    }
    notice.hidden = false;
    notice.textContent = "Refresh failed at " + new Date().toLocaleTimeString() + ": " + problemText(r) +
      (readAt ? "; showing the data of " + readAt : "") + (auto.checked ? " — retrying every 2 s." : " — press Refresh to try again.");
  };

  async function load() {
    const mine = ++started;
    busy = true;
    const r = await api("/v1/projections", { timeout: 10000 });
    if (mine === started) busy = false;
    // Gone from the page, or a later load's answer shows already.
    if (!table.isConnected || mine < answered) return;
    answered = mine;
    if (r.status !== 200) {
      failed(r);
      return;
    }
    const gens = r.body.projections || [];
    const rebuildable = (name) => !Array.isArray(r.body.rebuildable) || r.body.rebuildable.includes(name);
    const building = new Set(gens.filter(g => g.state === "building" || g.state === "handover").map(g => g.projection));
    // Rebuilds some process runs now (it holds the rebuild's lease): the
    // server would refuse another, so none is offered meanwhile.
    const underWay = new Map((r.body.rebuilding || []).map(x => [x.projection, x.holder]));
    // A rebuild that failed or was aborted leaves no generation: say so on the live one.
    const unbuilt = new Map((r.body.rebuildsEnded || []).filter(e => e.outcome === "failed" || e.outcome === "aborted").map(e => [e.projection, e]));
    const ended = (g) => {
      const e = g.state === "live" && !building.has(g.projection) && unbuilt.get(g.projection);
      return e ? h("div", { class: "muted rebuild-ended", title: e.at }, "last rebuild " + e.outcome + (e.error ? ": " + e.error : "")) : "";
    };
    fill(table, h("table", { id: "projections" },
      h("thead", {}, h("tr", {}, ["Projection", "Gen", "State", "Consumers", "Lag", "Lag by partition", "Rate /s", "Applied", "Dead letters", "Rebuild", ""].map((t, i) => h("th", { class: [3, 4, 6, 7, 8].includes(i) ? "num" : null }, t)))),
      h("tbody", {}, gens.map(g => {
        const maxLag = Math.max(1, ...(g.partitions || []).map(p => p.lag));
        const b = g.build;
        return h("tr", { dataset: { projection: g.projection, generation: g.generation, state: g.state } },
          h("td", {}, h("strong", {}, g.projection), h("div", { class: "muted mono" }, g.group)),
          h("td", {}, g.generation ? "g" + g.generation : "—"),
          h("td", {}, h("span", { class: "badge " + g.state }, g.state)),
          h("td", { class: "num" }, g.consumers),
          h("td", { class: "num lag" }, num(g.lag)),
          h("td", {}, h("div", { class: "lags", title: (g.partitions || []).map(p => p.partition + ": " + p.lag + " behind, committed " + p.committed + " of " + p.end).join("\n") },
            (g.partitions || []).map(p => h("span", { class: "p" + (p.lag > 0 ? " hot" : ""), height: (2 + 24 * p.lag / maxLag) + "px" })))),
          h("td", { class: "num" }, g.ratePerSecond != null ? num(Math.round(g.ratePerSecond)) :
            h("span", { class: "muted", title: g.state === "retiring" ? "reads nothing" : "measured from the group's committed offsets from the next refresh on" }, "—")),
          h("td", { class: "num" }, g.applied ? num(g.applied) :
            h("span", { class: "muted", title: "counted by a projector in this server: none runs here, or it has applied nothing yet" }, "—")),
          h("td", { class: "num" }, g.deadLettered ? h("a", { href: "#/dead-letters/" + g.projection, title: g.deadLetteredPartial ? "counting ran out of time: at least this many" : null }, (g.deadLetteredPartial ? "≥ " : "") + num(g.deadLettered)) : "0"),
          h("td", {}, g.error ? h("div", { class: "muted" }, g.error) : b ? h("div", { class: "build" },
            h("div", { class: "bar" + (g.state === "handover" ? " warn" : "") }, h("span", { width: Math.min(100, b.percent) + "%" })),
            h("div", { class: "muted" }, b.percent + "% of " + num(b.total) + " records, replaces g" + b.replaces + (b.secondsLeft ? ", " + Math.ceil(b.secondsLeft) + " s left" : ""))) : ended(g)),
          h("td", {}, g.state === "live" && !building.has(g.projection) && underWay.has(g.projection) ?
            h("span", { class: "muted under-way", title: "held by " + underWay.get(g.projection) }, "rebuild under way") :
            g.state === "live" && !building.has(g.projection) && rebuildable(g.projection) ?
            h("button", { class: "secondary rebuild", dataset: { projection: g.projection }, onclick: () => act("POST", g.projection) }, "Rebuild") :
            (g.state === "building" || g.state === "handover") ? h("button", { class: "danger abort", dataset: { projection: g.projection }, onclick: () => act("DELETE", g.projection) }, "Abort") : ""));
      }))));
    readAt = new Date().toLocaleTimeString();
    updated.textContent = "updated " + readAt;
    table.classList.remove("stale");
    notice.hidden = true;
    notice.textContent = "";
  }
  // Set before the first load, whatever it meets: a page opened while the
  // server is down fills itself once it answers.
  refreshTimer = setInterval(() => { if (auto.checked && !busy) load(); }, 2000);
  await load();
}

// ---- dead letters ----

async function deadLettersPage(name) {
  const pr = await api("/v1/projections");
  const names = pr.status === 200 ? [...new Set((pr.body.projections || []).map(g => g.projection))] : ["product-view", "product-search", "product-history"];
  name = name || names[0] || "product-view";
  // A name the list lacks (the notifier's letters, at #/dead-letters/notifier)
  // is offered too: the select names the letters the page shows.
  if (!names.includes(name)) names.push(name);
  const select = h("select", { id: "dl-projection", onchange: () => { location.hash = "#/dead-letters/" + select.value; } },
    names.map(n => h("option", { value: n, selected: n === name }, n)));
  const body = h("div", { id: "dead-letters-body" }, h("div", { class: "empty" }, "Loading…"));
  const result = h("div", { class: "result", id: "redrive-result" });
  const selectedBtn = h("button", { id: "redrive-selected", disabled: true }, "Re-drive selected");
  const allBtn = h("button", { class: "secondary", id: "redrive-all" }, "Re-drive all");
  show(h("div", { class: "panel" },
    h("div", { class: "toolbar" }, h("h1", {}, "Dead letters"), select, h("span", { class: "spacer" }), selectedBtn, allBtn,
      h("button", { class: "secondary", onclick: () => load() }, "Refresh")),
    h("p", { class: "muted" }, "Records the projection could not apply, from catalog." + name + ".dlq. Re-driving publishes them back to their source topic, each record once; they stay in the dead-letter topic, and one that fails again comes back at a new offset. A record that still does not decode or validate is left out."),
    result, body));

  const redrive = async (payload, btn) => {
    btn.disabled = true;
    result.className = "result";
    result.textContent = "Re-driving…";
    const r = await api("/v1/projections/" + encodeURIComponent(name) + "/dead-letters/redrive", { method: "POST", json: payload });
    btn.disabled = false;
    if (r.status === 200 || r.status === 207) {
      result.className = "result " + (r.status === 200 ? "ok" : "bad");
      const skipped = r.body.skipped || [], redriven = r.body.redriven || [];
      result.textContent = (redriven.length ? "Re-drove " + redriven.length + ": " + redriven.map(x => x.offset + " → " + x.topic + "[" + x.toPartition + "]@" + x.toOffset).join(", ") : "Re-drove none") +
        (skipped.length ? "; left out " + skipped.length + ": " + skipped.map(x => x.offset + " (" + x.reason + ")").join("; ") : "") +
        (r.body.error ? " — " + r.body.error : "");
    } else {
      result.className = "result bad";
      result.textContent = problemText(r);
    }
    load();
  };
  allBtn.addEventListener("click", () => redrive({ all: true }, allBtn));
  selectedBtn.addEventListener("click", () => {
    const offs = [...body.querySelectorAll("input.pick:checked")].map(c => c.value);
    redrive({ offsets: offs }, selectedBtn);
  });

  async function load() {
    const r = await api("/v1/projections/" + encodeURIComponent(name) + "/dead-letters?limit=1000");
    if (r.status !== 200) {
      fill(body, h("div", { class: "empty" }, problemText(r)));
      return;
    }
    const letters = r.body.deadLetters;
    selectedBtn.disabled = true;
    allBtn.disabled = letters.length === 0;
    if (!letters.length) {
      fill(body, h("div", { class: "empty" }, "No dead letters. All is well."));
      return;
    }
    const sync = () => { selectedBtn.disabled = !body.querySelector("input.pick:checked"); };
    fill(body, h("table", { id: "dead-letters" },
      h("thead", {}, h("tr", {}, ["", "Offset", "Time", "Reason", "Source", "Event type", "Aggregate", "Error"].map(t => h("th", {}, t)))),
      h("tbody", {}, letters.map(l => h("tr", { dataset: { offset: l.partition + "/" + l.offset, aggregate: l.aggregateId } },
        h("td", {}, h("input", { type: "checkbox", class: "pick", value: l.partition + "/" + l.offset, onchange: sync })),
        h("td", { class: "num mono" }, l.partition ? l.partition + "/" + l.offset : l.offset),
        h("td", { class: "mono" }, when(l.time)),
        h("td", {}, h("span", { class: "badge bad" }, l.reason || "?")),
        h("td", { class: "mono" }, l.sourceTopic + "[" + l.sourcePartition + "]@" + l.sourceOffset),
        h("td", {}, l.eventType || "—"),
        h("td", { class: "mono" }, l.aggregateId || "—"),
        h("td", { class: "err", title: l.error }, l.error))))),
    r.body.more ? h("div", { class: "muted" }, "Showing the first 1,000.") : null);
  }
  await load();
}

// ---- metrics ----

// metricsPage shows GET /metrics read with the session's token (a plain
// link to /metrics carries none, and needs ops when auth is on), its
// samples filtered by a substring.
async function metricsPage(params) {
  const filter = h("input", { type: "search", id: "metrics-filter", value: params.has("filter") ? params.get("filter") : "streamview_", placeholder: "filter: a metric name or label (empty: all)" });
  const count = h("span", { class: "muted", id: "metrics-count" });
  const body = h("pre", { id: "metrics", class: "mono" }, "Loading…");
  show(h("div", { class: "panel" },
    h("form", { class: "toolbar", onsubmit: (e) => {
      e.preventDefault();
      // An empty filter is kept in the URL (it shows every sample); the
      // same filter again reads the metrics again.
      const next = "#/metrics?filter=" + encodeURIComponent(filter.value.trim());
      if (location.hash === next) route(); else location.hash = next;
    } },
      h("h1", {}, "Metrics"), filter, h("button", { type: "submit", id: "metrics-go" }, "Filter"), h("span", { class: "spacer" }), count),
    body));
  const r = await api("/metrics", { headers: { Accept: "text/plain" } });
  if (r.status !== 200) {
    body.textContent = problemText(r);
    return;
  }
  const want = filter.value.trim();
  const lines = r.text.split("\n").filter(l => l && !l.startsWith("#") && (!want || l.includes(want)));
  count.textContent = num(lines.length) + " samples";
  body.textContent = lines.join("\n") || "No sample matches.";
}

// ---- token ----

function initToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const mark = () => form.classList.toggle("set", !!sessionStorage.getItem(TOKEN_KEY));
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  mark();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = input.value.trim().replace(/^Bearer\s+/i, "");
    if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
    mark();
    route();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
    mark();
    route();
  });
}

initToken();
window.addEventListener("hashchange", route);
route();
