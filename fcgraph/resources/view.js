// fcgraph offline view: draws the subgraph embedded in the page with Cytoscape.js (inlined above,
// MIT) on a canvas. Positions come from fcgraph (fcgraph.viz.layout); this script only draws,
// filters and searches. No network.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fcgraph-data").textContent);
  var NO_GAIN = "#d0d0d0", NO_Z = "#9a9a9a";
  var COND_COLORS = ["#3b6ea5", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f",
                     "#1b1b1b", "#e377c2"];
  function $(id) { return document.getElementById(id); }
  function fmt(v) {
    if (typeof v === "number" && !Number.isInteger(v)) { return v.toPrecision(4); }
    if (Array.isArray(v)) { return "[" + v.map(fmt).join(", ") + "]"; }
    return String(v);
  }
  function details(obj) {
    return Object.keys(obj).filter(function (k) { return obj[k] !== null && obj[k] !== undefined; })
      .map(function (k) { return k + ": " + fmt(obj[k]); }).join("\n");
  }
  function mix(stops, t) {
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (j) { return Math.round(a[j] + f * (b[j] - a[j])); }).join(",") + ")";
  }
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  var ZRAMP = [[158, 202, 225], [66, 146, 198], [239, 59, 44], [120, 10, 20]];
  function num(v) { return typeof v === "number" && isFinite(v); }
  function range(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (v < lo) { lo = v; } if (v > hi) { hi = v; } });
    return [lo, hi];
  }
  function unit(v, r) { return r[1] > r[0] ? (v - r[0]) / (r[1] - r[0]) : 0.5; }

  $("title").textContent = "fcgraph: " + data.title;
  document.title = "fcgraph: " + data.title;
  var layerRank = {}, layerOf = {};
  data.layers.forEach(function (l, i) { layerRank[l.name] = i; });
  function layerColor(name) {
    var t = data.layers.length > 1 ? layerRank[name] / (data.layers.length - 1) : 0;
    return "hsl(" + Math.round(220 - 300 * t) + ",62%,52%)";
  }
  var gains = data.nodes.map(function (n) { return n.props.gain; }).filter(num);
  var gainRange = range(gains);
  var noGain = data.nodes.some(function (n) { return !num(n.props.gain); });
  function nodeColor(n) {
    if (!gains.length) { return layerColor(n.layer); }
    return num(n.props.gain) ? mix(VIRIDIS, unit(n.props.gain, gainRange)) : NO_GAIN;
  }
  var conds = [];
  data.edges.forEach(function (e) { if (conds.indexOf(e.condition) < 0) { conds.push(e.condition); } });
  var zs = data.edges.map(function (e) { return e.z; }).filter(num);
  var zRange = range(zs);
  var noZ = data.edges.some(function (e) { return !num(e.z); });
  function condColor(c) { return COND_COLORS[conds.indexOf(c) % COND_COLORS.length]; }
  function zColor(z) { return num(z) ? mix(ZRAMP, unit(z, zRange)) : NO_Z; }

  var elements = [];
  data.nodes.forEach(function (n) {
    layerOf[n.uid] = n.layer;
    elements.push({group: "nodes", classes: "neuron" + (data.focus.indexOf(n.uid) >= 0 ? " focus" : ""),
                   data: {id: n.uid, label: String(n.idx), layer: n.layer, color: nodeColor(n)},
                   position: {x: n.x, y: n.y}, grabbable: false});
  });
  data.labels.forEach(function (l, i) {
    elements.push({group: "nodes", classes: "heading " + l.kind,
                   data: {id: "heading-" + i, text: l.text, layer: l.layer},
                   position: {x: l.x, y: l.y}, grabbable: false, selectable: false});
  });
  data.edges.forEach(function (e, i) {
    elements.push({group: "edges", data: {
      id: "e" + i, source: e.pre, target: e.post, condition: e.condition,
      z: num(e.z) ? e.z : null, color: condColor(e.condition),
      width: num(e.z) ? 0.6 + 3.4 * unit(e.z, zRange) : 1.2}});
  });
  var cy = cytoscape({
    container: $("cy"), elements: elements, layout: {name: "preset"},
    minZoom: 0.01, maxZoom: 12, boxSelectionEnabled: false, autoungrabify: true,
    textureOnViewport: false, hideEdgesOnViewport: false, motionBlur: false,
    style: [
      {selector: "node.neuron", style: {
        width: 8, height: 8, "background-color": "data(color)", "border-width": 0.6,
        "border-color": "#333", label: "data(label)", "font-size": 3, "min-zoomed-font-size": 9,
        "text-valign": "center", "text-halign": "center", color: "#000"}},
      {selector: "node.focus", style: {"border-width": 2.5, "border-color": "#000"}},
      {selector: "node.found", style: {
        width: 14, height: 14, "border-width": 3, "border-color": "#e6007e", "z-index": 20}},
      {selector: "node.heading", style: {
        "background-opacity": 0, "border-width": 0, width: 1, height: 1, events: "no",
        label: "data(text)", "text-valign": "center", "text-halign": "center", color: "#111"}},
      {selector: "node.layer", style: {"font-size": 16, "font-weight": "bold", "min-zoomed-font-size": 3}},
      {selector: "node.channel", style: {"font-size": 7, color: "#666", "min-zoomed-font-size": 6}},
      {selector: "edge", style: {
        "curve-style": "haystack", "haystack-radius": 0, width: "data(width)",
        "line-color": "data(color)", opacity: 0.5}},
      {selector: "edge.hi", style: {opacity: 1, "z-index": 10}},
      {selector: ".hidden", style: {display: "none"}}
    ]
  });
  function fitAll() {  // the drawn neurons in view, a small view not blown up past 2.5x
    cy.fit(cy.elements(":visible"), 30);
    if (cy.zoom() > 2.5) { cy.zoom({level: 2.5, renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}}); }
  }
  fitAll();

  // controls
  var select = $("condition");
  [["", "all conditions"]].concat(conds.map(function (c) { return [c, c]; })).forEach(function (o) {
    var opt = document.createElement("option"); opt.value = o[0]; opt.textContent = o[1];
    select.appendChild(opt);
  });
  var minz = $("minz");
  minz.step = "any";
  // the slider's ends rounded outwards to 1/1000 (the browser keeps ~15 digits of a value)
  var zLow = Math.floor(zRange[0] * 1000) / 1000, zHigh = Math.ceil(zRange[1] * 1000) / 1000;
  if (zs.length) { minz.min = String(zLow); minz.max = String(zHigh); minz.value = minz.min; }
  else { minz.disabled = true; }
  var layerBoxes = {};
  data.layers.forEach(function (l) {
    var label = document.createElement("label"), box = document.createElement("input");
    box.type = "checkbox"; box.checked = true; box.value = l.name; box.className = "layer-filter";
    label.appendChild(box); label.appendChild(document.createTextNode(" " + l.name));
    $("layers").appendChild(label); layerBoxes[l.name] = box;
    box.addEventListener("change", apply);
  });

  // filters: a neuron is drawn when its layer is checked; an edge when its condition is the
  // chosen one (or all), its z >= min z (no z filter while the slider is at its lowest) and
  // both its neurons' layers are checked
  function filters() {
    var v = Number(minz.value);
    return {condition: select.value, minZ: zs.length && v > zLow ? v : null,
            layers: Object.keys(layerBoxes).filter(function (k) { return layerBoxes[k].checked; })};
  }
  function drawnEdges() { return cy.edges().filter(function (e) { return e.visible(); }).length; }
  function drawnNodes() { return cy.nodes(".neuron").filter(function (n) { return n.visible(); }).length; }
  function apply() {
    var f = filters(), on = {};
    f.layers.forEach(function (l) { on[l] = true; });
    $("minz-value").textContent = f.minZ === null ? "off" : f.minZ.toFixed(3);
    cy.batch(function () {
      cy.nodes().forEach(function (n) { n.toggleClass("hidden", !on[n.data("layer")]); });
      cy.edges().forEach(function (e) {
        var z = e.data("z");
        var show = (!f.condition || e.data("condition") === f.condition) &&
          (f.minZ === null || (z !== null && z >= f.minZ)) &&
          on[layerOf[e.data("source")]] === true && on[layerOf[e.data("target")]] === true;
        e.toggleClass("hidden", !show);
      });
    });
    var shown = drawnEdges();
    $("meta").textContent = "run " + data.run_id + ": " + drawnNodes() + " of " + data.nodes.length +
      " neurons, " + shown + " of " + data.edges.length + " FC edges drawn; x = layer" +
      " (conv: a block per channel, x, y within it), edge width = z" +
      (zs.length ? " (" + zRange[0].toFixed(2) + " to " + zRange[1].toFixed(2) + ")" : "") +
      "; scroll to zoom, drag to pan, hover for details";
    document.body.setAttribute("data-drawn-edges", String(shown));
  }
  select.addEventListener("change", apply);
  minz.addEventListener("input", apply);
  $("edge-colour").addEventListener("change", function () {
    var byZ = this.value === "z";
    cy.batch(function () {
      cy.edges().forEach(function (e) {
        e.data("color", byZ ? zColor(e.data("z")) : condColor(e.data("condition")));
      });
    });
    legend();
  });
  $("fit").addEventListener("click", fitAll);

  // search: an exact uid, else a uid ending in /QUERY (layer/idx, or idx), else a part of a uid
  function search(q) {
    q = String(q || "").trim();
    cy.nodes(".found").removeClass("found");
    cy.edges(".hi").removeClass("hi");
    if (!q) { $("search-status").textContent = ""; return null; }
    var neurons = cy.nodes(".neuron"), hits = neurons.filter(function (n) { return n.id() === q; });
    if (!hits.length) { hits = neurons.filter(function (n) { return n.id().endsWith("/" + q); }); }
    if (!hits.length) { hits = neurons.filter(function (n) { return n.id().indexOf(q) >= 0; }); }
    if (!hits.length) { $("search-status").textContent = "no neuron matches " + q; return null; }
    var n = hits[0];
    n.addClass("found"); n.connectedEdges().addClass("hi");
    $("search-status").textContent = "found " + n.id() + (hits.length > 1 ? " (first of " + hits.length +
      " matches)" : "") + (n.visible() ? "" : " (its layer is filtered out)");
    cy.resize();  // the status line may have changed the canvas's height
    var z = Math.max(cy.zoom(), 2), at = n.position();  // the neuron itself, not its label, centred
    cy.viewport({zoom: z, pan: {x: cy.width() / 2 - z * at.x, y: cy.height() / 2 - z * at.y}});
    return n.id();
  }
  $("search").addEventListener("change", function () { search(this.value); });
  $("search").addEventListener("keydown", function (ev) { if (ev.key === "Enter") { search(this.value); } });

  // hover: every property
  var tip = $("tip"), nodeProps = {}, edgeProps = {};
  data.nodes.forEach(function (n) { nodeProps[n.uid] = n.uid + "\n" + details(n.props); });
  data.edges.forEach(function (e, i) { edgeProps["e" + i] = e.pre + " -> " + e.post + "\n" + details(e); });
  cy.on("mouseover", "node.neuron, edge", function (ev) {
    var t = ev.target, text = t.isNode() ? nodeProps[t.id()] : edgeProps[t.id()];
    var o = ev.originalEvent || {clientX: 0, clientY: 0};
    tip.textContent = text; tip.style.display = "block";
    tip.style.left = (o.clientX + 14) + "px"; tip.style.top = (o.clientY + 10) + "px";
    if (t.isNode()) { t.connectedEdges().addClass("hi"); }
  });
  cy.on("mouseout", "node.neuron, edge", function (ev) {
    tip.style.display = "none";
    if (ev.target.isNode() && !ev.target.hasClass("found")) { ev.target.connectedEdges().removeClass("hi"); }
  });

  $("cy").addEventListener("mouseleave", function () { tip.style.display = "none"; });

  // legend: every swatch with its name
  function legend() {
    var box = $("legend"), byZ = $("edge-colour").value === "z";
    box.textContent = "";
    function item(color, label, kind) {
      if (!label) { throw new Error("a legend swatch without a label"); }
      var s = document.createElement("span"), sw = document.createElement("span");
      var text = document.createElement("span");
      s.className = "item"; sw.className = "sw" + (kind ? " " + kind : "");
      if (color) { sw.style.background = color; }
      text.className = "label"; text.textContent = label;
      s.appendChild(sw); s.appendChild(text); box.appendChild(s);
    }
    if (gains.length) {
      [0, 0.5, 1].forEach(function (t) {
        item(mix(VIRIDIS, t), "gain " + (gainRange[0] + t * (gainRange[1] - gainRange[0])).toPrecision(3));
      });
      if (noGain) { item(NO_GAIN, "no gain (not analysed)"); }
    } else {
      data.layers.forEach(function (l) { item(layerColor(l.name), "layer " + l.name); });
    }
    if (data.focus.length) { item(null, "the view's neuron", "ring"); }
    item(null, "search result", "ring found");
    if (byZ) {
      if (zs.length) {
        [0, 0.5, 1].forEach(function (t) {
          item(mix(ZRAMP, t), "edge z " + (zRange[0] + t * (zRange[1] - zRange[0])).toFixed(2), "line");
        });
      }
      if (noZ) { item(NO_Z, "edge without z", "line"); }
    } else {
      conds.forEach(function (c) { item(condColor(c), "edges: " + c, "line"); });
    }
  }
  legend();
  apply();
  window.fcgraphView = {cy: cy, drawnEdges: drawnEdges, drawnNodes: drawnNodes, search: search,
                        filters: filters, apply: apply};
  document.body.setAttribute("data-rendered", "true");
})();
