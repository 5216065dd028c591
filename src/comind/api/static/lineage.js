// The lineage page: the graph of /api/v1/lineage drawn as layered SVG (a node's layer is the
// longest path to it from a source, so data flows left to right), and, on a click, the
// node's columns with where each one comes from (/api/v1/lineage/column). No framework.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const W = 200, H = 38, GAP_X = 70, GAP_Y = 14, PAD = 12;

function el(name, attrs, text, ns) {
  const node = ns ? document.createElementNS(NS, name) : document.createElement(name);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJson(path, params) {
  const res = await fetch(path + "?" + new URLSearchParams(params), { credentials: "same-origin" });
  if (!res.ok) throw new Error((await res.json()).error || res.statusText);
  return res.json();
}

// each node's layer: the longest path to it; an edge closing a cycle does not count
function layers(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n])), layer = new Map(), state = new Map();
  const visit = (id) => {
    if (state.get(id) === 2) return layer.get(id);
    if (state.get(id) === 1) return -1;
    state.set(id, 1);
    let depth = 0;
    for (const e of byId.get(id).inEdges) {
      if (byId.has(e.origin)) depth = Math.max(depth, visit(e.origin) + 1);
    }
    state.set(id, 2);
    layer.set(id, depth);
    return depth;
  };
  nodes.forEach((n) => visit(n.id));
  return layer;
}

function place(nodes) {
  const layer = layers(nodes), columns = [], pos = new Map();
  for (const n of nodes) (columns[layer.get(n.id)] ||= []).push(n);
  columns.forEach((column, x) => column.forEach((n, y) => {
    pos.set(n.id, [PAD + x * (W + GAP_X), PAD + y * (H + GAP_Y)]);
  }));
  const rows = Math.max(1, ...columns.map((c) => c.length));
  return { pos, width: PAD * 2 + columns.length * (W + GAP_X) - GAP_X,
           height: PAD * 2 + rows * (H + GAP_Y) - GAP_Y };
}

function short(text) {
  return text.length > 28 ? text.slice(0, 27) + "…" : text;
}

function draw(figure, panel, nodes) {
  const { pos, width, height } = place(nodes);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                          "aria-label": "lineage graph" }, undefined, true);
  const edges = el("g", { class: "edges" }, undefined, true);
  for (const n of nodes) {
    for (const e of n.outEdges) {
      if (!pos.has(e.destination)) continue;
      const [x1, y1] = pos.get(n.id), [x2, y2] = pos.get(e.destination);
      const sx = x1 + W, sy = y1 + H / 2, tx = x2, ty = y2 + H / 2, mx = (sx + tx) / 2;
      edges.append(el("path", { class: "edge", "data-from": n.id, "data-to": e.destination,
                                d: `M${sx},${sy} C${mx},${sy} ${mx},${ty} ${tx},${ty}` },
                      undefined, true));
    }
  }
  svg.append(edges);
  for (const n of nodes) {
    const [x, y] = pos.get(n.id);
    const g = el("g", { class: `node k-${n.data.kind}`, "data-id": n.id, tabindex: 0,
                        role: "button", transform: `translate(${x},${y})` }, undefined, true);
    g.append(el("rect", { width: W, height: H }, undefined, true),
             el("text", { class: "kind", x: 8, y: 13 }, n.data.kind, true),
             el("text", { x: 8, y: 29 }, short(n.data.name), true),
             el("title", {}, n.id, true));
    g.addEventListener("click", () => select(svg, panel, n));
    g.addEventListener("keydown", (event) => { if (event.key === "Enter") select(svg, panel, n); });
    svg.append(g);
  }
  figure.replaceChildren(svg);
  figure.dataset.nodes = String(nodes.length);
}

function inputLine(input) {
  const how = `${input.type} ${input.subtype}${input.masking ? ", masked" : ""}`;
  return `← ${input.node} ${input.field} (${how}) via ${input.flow}`;
}

let asked = 0;  // the latest click wins over answers still on their way

async function select(svg, panel, n) {
  const mine = ++asked;
  svg.querySelectorAll(".node").forEach((g) => g.classList.toggle("selected", g.dataset.id === n.id));
  svg.querySelectorAll(".edge").forEach((p) => p.classList.toggle(
    "lit", p.dataset.from === n.id || p.dataset.to === n.id));
  const columns = await Promise.all(n.data.fields.map((field) => getJson(
    "/api/v1/lineage/column", { node: n.id, field, depth: 1 }).catch(() => ({ graph: [] }))));
  if (mine !== asked) return;
  panel.replaceChildren(el("h2", {}, n.data.name), el("p", { class: "from" }, n.data.kind));
  panel.dataset.node = n.id;
  if (n.data.kind === "dataset") {
    const link = el("p");
    link.append(el("a", { href: "/quality?dataset=" + encodeURIComponent(n.data.name) },
                   "Quality history"));
    panel.append(link);
  }
  if (n.data.fields.length === 0) panel.append(el("p", { class: "from" }, "No known columns."));
  const list = el("ul", { class: "columns" });
  n.data.fields.forEach((field, i) => {
    const item = el("li", { class: "column", "data-field": field });
    item.append(el("span", { class: "field" }, field));
    const me = columns[i].graph.find((f) => f.id === `datasetField:${n.id}:${field}`);
    const inputs = el("ul");
    for (const input of me ? me.data.inputFields : []) {
      inputs.append(el("li", { class: "from" }, inputLine(input)));
    }
    item.append(inputs);
    list.append(item);
  });
  panel.append(list);
  panel.hidden = false;
}

document.addEventListener("DOMContentLoaded", async () => {
  const figure = document.getElementById("lineage-graph");
  const panel = document.getElementById("lineage-panel");
  if (!figure) return;
  const node = figure.dataset.node;
  try {
    const doc = await getJson("/api/v1/lineage", node ? { node } : {});
    if (doc.graph.length === 0) {
      figure.querySelector(".plot").textContent = "No lineage yet: nothing applied.";
      return;
    }
    draw(figure, panel, doc.graph);
  } catch (error) {
    figure.querySelector(".plot").textContent = "The graph cannot be read: " + error.message;
  }
});
