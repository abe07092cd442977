// fcgraph offline view: lays out and draws the subgraph embedded in the page (no network).
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("fcgraph-data").textContent);
  var LAYER_COLORS = ["#4C8EDA", "#57C7E3", "#8DCC93", "#F79767", "#C990C0", "#F16667",
                      "#FFC454", "#D9C8AE", "#ECB5C9", "#569480", "#DA7194", "#6DCE9E"];
  var COND_COLORS = ["#3b6ea5", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f"];
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function fmt(v) {
    if (typeof v === "number" && !Number.isInteger(v)) { return v.toPrecision(4); }
    if (Array.isArray(v)) { return "[" + v.map(fmt).join(", ") + "]"; }
    return String(v);
  }
  function details(obj) {
    return Object.keys(obj).filter(function (k) { return obj[k] !== null; })
      .map(function (k) { return k + ": " + fmt(obj[k]); }).join("\n");
  }
  document.getElementById("title").textContent = "fcgraph: " + data.title;
  document.title = "fcgraph: " + data.title;
  // columns: one per layer order
  var orders = [], byOrder = {}, layerName = {};
  data.nodes.forEach(function (n) {
    if (!(n.order in byOrder)) { byOrder[n.order] = []; orders.push(n.order); }
    byOrder[n.order].push(n); layerName[n.order] = n.layer;
  });
  orders.sort(function (a, b) { return a - b; });
  orders.forEach(function (o) { byOrder[o].sort(function (a, b) { return a.idx - b.idx; }); });
  var maxCount = Math.max(1, Math.max.apply(null, orders.map(function (o) { return byOrder[o].length; }).concat([1])));
  var R = maxCount > 200 ? 3 : maxCount > 60 ? 5 : 8;
  var gapY = Math.max(2 * R + 4, Math.min(26, 900 / maxCount));
  var colW = 260, top = 50, left = 90;
  var width = left * 2 + Math.max(1, orders.length - 1) * colW;
  var height = top + 30 + maxCount * gapY;
  var pos = {};
  orders.forEach(function (o, ci) {
    var col = byOrder[o], off = (maxCount - col.length) * gapY / 2;
    col.forEach(function (n, i) { pos[n.uid] = [left + ci * colW, top + 20 + off + i * gapY]; });
  });
  // node colour: gain when any node has it, else layer
  var gains = data.nodes.map(function (n) { return n.props.gain; })
    .filter(function (g) { return typeof g === "number"; });
  var gmin = Math.min.apply(null, gains), gmax = Math.max.apply(null, gains);
  function ramp(t) {  // a viridis-like ramp, t in [0, 1]
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (j) { return Math.round(a[j] + f * (b[j] - a[j])); }).join(",") + ")";
  }
  function nodeColor(n) {
    if (gains.length) {
      var g = n.props.gain;
      if (typeof g !== "number") { return "#cccccc"; }
      return ramp(gmax > gmin ? (g - gmin) / (gmax - gmin) : 0.5);
    }
    return LAYER_COLORS[orders.indexOf(n.order) % LAYER_COLORS.length];
  }
  // edges: width by z, colour by condition
  var conds = [];
  data.edges.forEach(function (e) { if (conds.indexOf(e.condition) < 0) { conds.push(e.condition); } });
  var zs = data.edges.map(function (e) { return e.z; }).filter(function (z) { return typeof z === "number"; });
  var zmin = Math.min.apply(null, zs), zmax = Math.max.apply(null, zs);
  function edgeWidth(z) {
    if (typeof z !== "number" || !(zmax > zmin)) { return 1.5; }
    return 0.6 + 4.4 * (z - zmin) / (zmax - zmin);
  }
  var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height,
                       id: "graph", "data-nodes": data.nodes.length, "data-edges": data.edges.length});
  document.getElementById("wrap").appendChild(svg);
  orders.forEach(function (o, ci) {
    var t = el("text", {x: left + ci * colW, y: 22, "text-anchor": "middle", "class": "col"}, svg);
    t.textContent = layerName[o] + " (" + byOrder[o].length + ")";
  });
  var tip = document.getElementById("tip");
  function showTip(ev, text) {
    tip.textContent = text; tip.style.display = "block";
    tip.style.left = (ev.clientX + 14) + "px"; tip.style.top = (ev.clientY + 10) + "px";
  }
  function hideTip() { tip.style.display = "none"; }
  var edgeLayer = el("g", {"class": "edges"}, svg), nodeLayer = el("g", {"class": "nodes"}, svg);
  var incident = {};
  data.edges.forEach(function (e, i) {
    var a = pos[e.pre], b = pos[e.post];
    if (!a || !b) { return; }
    var mx = (a[0] + b[0]) / 2, bend = 6 * conds.indexOf(e.condition);
    var p = el("path", {d: "M" + a[0] + "," + a[1] + " C" + mx + "," + (a[1] + bend) + " " + mx + "," +
                         (b[1] + bend) + " " + b[0] + "," + b[1],
                        "class": "edge", "stroke-width": edgeWidth(e.z).toFixed(2),
                        stroke: COND_COLORS[conds.indexOf(e.condition) % COND_COLORS.length],
                        "data-pre": e.pre, "data-post": e.post, "data-condition": e.condition}, edgeLayer);
    var text = e.pre + " -> " + e.post + "\n" + details(e);
    el("title", {}, p).textContent = text;
    p.addEventListener("mousemove", function (ev) { showTip(ev, text); });
    p.addEventListener("mouseleave", hideTip);
    (incident[e.pre] = incident[e.pre] || []).push(p);
    (incident[e.post] = incident[e.post] || []).push(p);
  });
  data.nodes.forEach(function (n) {
    var xy = pos[n.uid];
    var g = el("g", {"class": "node" + (data.focus.indexOf(n.uid) >= 0 ? " focus" : ""),
                     transform: "translate(" + xy[0] + "," + xy[1] + ")", "data-uid": n.uid}, nodeLayer);
    el("circle", {r: R, fill: nodeColor(n)}, g);
    var text = n.uid + "\n" + details(n.props);
    el("title", {}, g).textContent = text;
    if (byOrder[n.order].length <= 60) {
      var label = el("text", {x: R + 3, y: 3}, g);
      label.textContent = String(n.idx);
    }
    g.addEventListener("mouseenter", function () {
      svg.classList.add("dim");
      (incident[n.uid] || []).forEach(function (p) { p.classList.add("hi"); });
    });
    g.addEventListener("mousemove", function (ev) { showTip(ev, text); });
    g.addEventListener("mouseleave", function () {
      svg.classList.remove("dim"); hideTip();
      (incident[n.uid] || []).forEach(function (p) { p.classList.remove("hi"); });
    });
  });
  document.getElementById("meta").textContent = "run " + data.run_id + ": " + data.nodes.length +
    " neurons, " + data.edges.length + " FC edges; x = layer, edge width = z" +
    (zs.length ? " (" + zmin.toFixed(2) + " to " + zmax.toFixed(2) + ")" : "") +
    "; hover for details";
  var legend = document.getElementById("legend");
  function item(color, label) {
    var s = document.createElement("span");
    var sw = document.createElement("span"); sw.className = "sw"; sw.style.background = color;
    s.appendChild(sw); s.appendChild(document.createTextNode(label)); legend.appendChild(s);
  }
  if (gains.length) {
    item(ramp(0), "gain " + gmin.toPrecision(3)); item(ramp(0.5), "");
    item(ramp(1), "gain " + gmax.toPrecision(3)); item("#cccccc", "no gain");
  } else {
    orders.forEach(function (o) { item(nodeColor(byOrder[o][0]), layerName[o]); });
  }
  conds.forEach(function (c, i) { item(COND_COLORS[i % COND_COLORS.length], "edges: " + c); });
  document.body.setAttribute("data-rendered", "true");
})();
