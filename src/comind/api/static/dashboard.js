// The dashboard's only script: the phone menu, refreshing a page in place, and the flows'
// charts drawn as inline SVG from /api/v1/metrics/query. No framework, no build step.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// [[epoch seconds, value], ...] of every series matching, summed per timestamp
async function points(name, match, range) {
  const query = new URLSearchParams({ name, match: JSON.stringify(match), range });
  const res = await fetch("/api/v1/metrics/query?" + query, { credentials: "same-origin" });
  if (!res.ok) return [];
  const total = new Map();
  for (const series of (await res.json()).series) {
    for (const [at, value] of series.points) {
      const t = Date.parse(at) / 1000;
      total.set(t, (total.get(t) || 0) + value);
    }
  }
  return [...total.entries()].sort((a, b) => a[0] - b[0]);
}

// a counter's increase per second between samples (a restart's drop is skipped)
function rate(pts) {
  const out = [];
  for (let i = 1; i < pts.length; i++) {
    const [t0, v0] = pts[i - 1], [t1, v1] = pts[i];
    if (t1 > t0 && v1 >= v0) out.push([t1, (v1 - v0) / (t1 - t0)]);
  }
  return out;
}

// a histogram's mean between samples: increase of its _sum over increase of its _count
function mean(sums, counts) {
  const count = new Map(counts), out = [];
  for (let i = 1; i < sums.length; i++) {
    const [t0, s0] = sums[i - 1], [t1, s1] = sums[i];
    const n0 = count.get(t0), n1 = count.get(t1);
    if (n0 !== undefined && n1 !== undefined && n1 > n0) out.push([t1, (s1 - s0) / (n1 - n0)]);
  }
  return out;
}

async function line(kind, spec, range) {
  if (kind === "mean") {
    const [sums, counts] = await Promise.all([
      points(spec.name + "_sum", spec.match, range),
      points(spec.name + "_count", spec.match, range),
    ]);
    return mean(sums, counts);
  }
  const pts = await points(spec.name, spec.match, range);
  return kind === "rate" ? rate(pts) : pts;
}

function label(value) {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  return abs >= 1000 ? (value / 1000).toFixed(1) + "k" : abs >= 10 ? value.toFixed(0)
    : abs >= 1 ? value.toFixed(1) : value.toPrecision(2);
}

// UTC time of day; with seconds when the chart spans less than ten minutes
function clock(t, span) {
  return new Date(t * 1000).toISOString().slice(11, span < 600 ? 19 : 16) + "Z";
}

function draw(plot, lines) {
  const W = 600, H = 180, L = 46, R = 10, T = 10, B = 22;
  const all = lines.flatMap((l) => l.points);
  plot.replaceChildren();
  plot.classList.toggle("empty", all.length === 0);
  if (all.length === 0) {
    plot.textContent = "No data in this range yet.";
    return;
  }
  const ts = all.map((p) => p[0]), vs = all.map((p) => p[1]);
  let x0 = Math.min(...ts), x1 = Math.max(...ts);
  if (x1 === x0) { x0 -= 30; x1 += 30; }
  const y0 = Math.min(0, ...vs);
  let y1 = Math.max(...vs);
  if (y1 <= y0) y1 = y0 + 1;
  const x = (t) => (L + (t - x0) / (x1 - x0) * (W - L - R)).toFixed(1);
  const y = (v) => (H - B - (v - y0) / (y1 - y0) * (H - T - B)).toFixed(1);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  chart.append(
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, label(y1)),
    svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, label(y0)),
    svg("text", { x: L, y: H - 6 }, clock(x0, x1 - x0)),
    svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, clock(x1, x1 - x0)),
  );
  lines.forEach((l, i) => {
    const cls = "s" + (i % 4);
    chart.append(svg("polyline", {
      class: "line " + cls, points: l.points.map(([t, v]) => `${x(t)},${y(v)}`).join(" "),
    }));
    for (const [t, v] of l.points) {
      const dot = svg("circle", { class: "dot " + cls, cx: x(t), cy: y(v), r: 2.2, "data-value": v });
      dot.append(svg("title", {}, `${l.label} ${label(v)} at ${clock(t, 0)}`));
      chart.append(dot);
    }
  });
  const legend = document.createElement("p");
  legend.className = "legend";
  lines.forEach((l, i) => {
    const key = document.createElement("span");
    key.className = "key s" + (i % 4);
    legend.append(key, l.label);
  });
  plot.append(chart, legend);
}

async function drawCharts(root) {
  await Promise.all([...root.querySelectorAll("figure.chart")].map(async (figure) => {
    const spec = JSON.parse(figure.dataset.chart);
    const lines = await Promise.all(spec.lines.map(async (l) => (
      { label: l.label, points: await line(spec.kind, l, spec.range) })));
    draw(figure.querySelector(".plot"), lines);
  }));
}

// re-render the page's main part in place, unless the person is typing in it or the tab
// is in the background
async function refresh(main) {
  const typing = main.contains(document.activeElement)
    && document.activeElement.matches("input, select");
  if (typing || document.hidden) return;
  const res = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
  if (res.redirected) { location.assign(res.url); return; }  // signed out: the login page
  if (!res.ok) return;
  const fresh = new DOMParser().parseFromString(await res.text(), "text/html").querySelector("main");
  if (fresh) {
    main.innerHTML = fresh.innerHTML;
    await drawCharts(main);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const menu = document.querySelector("button.menu");
  if (menu) {
    menu.addEventListener("click", () => {
      menu.setAttribute("aria-expanded", String(document.body.classList.toggle("nav-open")));
    });
  }
  const main = document.querySelector("main[data-refresh]");
  if (main) {
    const every = Number(main.dataset.refresh) * 1000;
    const loop = async () => {
      try {
        await refresh(main);
      } catch {
        // the platform may be restarting: the next round tries again
      }
      setTimeout(loop, every);
    };
    setTimeout(loop, every);
  }
  drawCharts(document);
});
