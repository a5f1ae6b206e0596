const COLOURS = ["#4393c3", "#e08214", "#5aae61", "#9970ab", "#d6604d", "#878787", "#bf812d", "#35978f", "#de77ae", "#8c510a"];
// The regions in the class colours mixed with white, opaque, so a redraw covers the last one.
const PALE = COLOURS.map((colour) => "#" + [1, 3, 5].map((i) =>
  Math.round(255 - 0.35 * (255 - parseInt(colour.slice(i, i + 2), 16))).toString(16).padStart(2, "0")).join(""));
const snapshots = DATA.snapshots;
const SVG = "http://www.w3.org/2000/svg";
function svgElement(parent, name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  parent.appendChild(element);
  return element;
}
function curve(svg, values, low, high) {
  const width = svg.width.baseVal.value, height = svg.height.baseVal.value, pad = 24;
  svgElement(svg, "line", { x1: pad, y1: height - pad, x2: width - 4, y2: height - pad, stroke: "#999" });
  svgElement(svg, "line", { x1: pad, y1: 4, x2: pad, y2: height - pad, stroke: "#999" });
  const top = svgElement(svg, "text", { x: 2, y: 12 }); top.textContent = high.toPrecision(2);
  const bottom = svgElement(svg, "text", { x: 2, y: height - pad }); bottom.textContent = low.toPrecision(2);
  const end = svgElement(svg, "text", { x: width - 4, y: height - 8, "text-anchor": "end" }); end.textContent = "step " + DATA.steps;
  const x = (i) => pad + (width - pad - 6) * i / Math.max(1, DATA.steps - 1);
  const y = (v) => height - pad - (height - pad - 6) * (v - low) / ((high - low) || 1);
  const line = svgElement(svg, "polyline", { fill: "none", stroke: "#b2182b", "stroke-width": 1.5 });
  return (k) => {
    line.setAttribute("points", values.slice(0, k).map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "));
  };
}
const lossCurve = curve(document.getElementById("loss"), DATA.losses, 0, Math.max(...DATA.losses, 1e-12));
const accuracyCurve = curve(document.getElementById("accuracy"), DATA.accuracies, 0, 1);

function drawBoundary(snapshot) {
  const canvas = document.getElementById("boundary"), context = canvas.getContext("2d");
  const [xs, ys] = DATA.grid, size = xs.length;
  const cell = canvas.width / size;
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      context.fillStyle = PALE[Number(snapshot.classes[row * size + column])];
      context.fillRect(column * cell, canvas.height - (row + 1) * cell, cell + 0.5, cell + 0.5);
    }
  }
  const px = (v) => (v - xs[0]) / (xs[size - 1] - xs[0]) * (canvas.width - cell) + cell / 2;
  const py = (v) => canvas.height - ((v - ys[0]) / (ys[size - 1] - ys[0]) * (canvas.height - cell) + cell / 2);
  DATA.points.forEach(([a, b], i) => {
    context.beginPath();
    context.arc(px(a), py(b), 3.5, 0, 2 * Math.PI);
    context.fillStyle = COLOURS[DATA.labels[i] % COLOURS.length];
    context.fill();
    context.strokeStyle = "black";
    context.lineWidth = 0.6;
    context.stroke();
  });
}

// One heat map per layer, on one colour scale for the whole training run.
const heatmaps = DATA.layers.map((name, layer) => {
  let largest = 0;
  for (const s of snapshots) for (const row of s.weights[layer]) for (const w of row) largest = Math.max(largest, Math.abs(w));
  const rows = snapshots[0].weights[layer], columns = Math.max(...rows.map((r) => r.length));
  const cell = Math.max(4, Math.min(16, Math.floor(320 / columns)));
  const figure = document.createElement("figure");
  const canvas = document.createElement("canvas");
  canvas.width = columns * cell;
  canvas.height = rows.length * cell;
  canvas.className = "heatmap";
  const caption = document.createElement("figcaption");
  caption.textContent = name + ": a row per neuron (weights, then bias); red < 0 < blue, full colour at |w| = " + largest.toPrecision(3);
  figure.append(canvas, caption);
  document.getElementById("heatmaps").appendChild(figure);
  return (snapshot) => {
    const context = canvas.getContext("2d");
    snapshot.weights[layer].forEach((row, r) => row.forEach((w, c) => {
      const strength = largest > 0 ? Math.min(1, Math.abs(w) / largest) : 0;
      const [red, green, blue] = w < 0 ? [214, 96, 77] : [67, 147, 195];
      const mix = (channel) => Math.round(255 + (channel - 255) * strength);
      context.fillStyle = "rgb(" + mix(red) + "," + mix(green) + "," + mix(blue) + ")";
      context.fillRect(c * cell, r * cell, cell, cell);
    }));
  };
});

if (!DATA.grid) document.getElementById("boundary-figure").remove();
function show(k) {
  const snapshot = snapshots[k];
  lossCurve(snapshot.step);
  accuracyCurve(snapshot.step);
  if (DATA.grid) drawBoundary(snapshot);
  heatmaps.forEach((draw) => draw(snapshot));
  // Steps count from 1, as fit and the command line number them: DATA.losses[step - 1] is the
  // loss of that step, measured before its update.
  const step = snapshot.step;
  document.getElementById("status").textContent = "after " + step + " of " + DATA.steps +
    " steps: accuracy " + (100 * snapshot.accuracy).toFixed(1) + "%" +
    (step > 0 ? ", loss at step " + step + " " + DATA.losses[step - 1].toPrecision(4) : " (before training)");
}
// It opens on the latest snapshot (what a live view must show); play starts from the first.
player(snapshots.length, show, (k) => "snapshot " + (k + 1) + " of " + snapshots.length, snapshots.length - 1);
