// The class colours come from Python (viz.CLASS_COLOURS), as in every picture of data.
const COLOURS = DATA.colours;
const REGIONS = DATA.regions.map((colour) => [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)));
const EDGE = [68, 68, 68];  // the boundary line, as on the PNG plots
const snapshots = DATA.snapshots;
const SVG = "http://www.w3.org/2000/svg";
function svgElement(parent, name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  parent.appendChild(element);
  return element;
}
// A curve is drawn again whole each time, for the width its box has now: the pictures
// follow the width of the window.
function curve(svg, values, low, high) {
  return (k) => {
    svg.replaceChildren();
    const width = svg.getBoundingClientRect().width, height = svg.height.baseVal.value, pad = 24;
    svgElement(svg, "line", { x1: pad, y1: height - pad, x2: width - 4, y2: height - pad, stroke: "#999" });
    svgElement(svg, "line", { x1: pad, y1: 4, x2: pad, y2: height - pad, stroke: "#999" });
    const top = svgElement(svg, "text", { x: 2, y: 12 }); top.textContent = high.toPrecision(2);
    const bottom = svgElement(svg, "text", { x: 2, y: height - pad }); bottom.textContent = low.toPrecision(2);
    const end = svgElement(svg, "text", { x: width - 4, y: height - 8, "text-anchor": "end" }); end.textContent = "step " + DATA.steps;
    const x = (i) => pad + (width - pad - 6) * i / Math.max(1, DATA.steps - 1);
    const y = (v) => height - pad - (height - pad - 6) * (v - low) / ((high - low) || 1);
    svgElement(svg, "polyline", {
      fill: "none", stroke: "#b2182b", "stroke-width": 1.5,
      points: values.slice(0, k).map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "),
    });
  };
}
const lossCurve = curve(document.getElementById("loss"), DATA.losses, 0, Math.max(...DATA.losses, 1e-12));
const accuracyCurve = curve(document.getElementById("accuracy"), DATA.accuracies, 0, 1);

// The class at every pixel, from the model's outputs on the grid interpolated between the
// grid points (bilinearly), so that the boundary is a smooth line and not a staircase of blocks.
function pixelClasses(outputs, side) {
  const [xs] = DATA.grid, size = xs.length, k = outputs.length / (size * size);
  const classes = new Uint8Array(side * side), value = new Float64Array(k);
  const at = (row, column, j) => outputs[(row * size + column) * k + j];
  for (let py = 0; py < side; py++) {
    const v = (side - 0.5 - py) / side * (size - 1);  // grid rows run from the bottom up
    const row = Math.min(Math.floor(v), size - 2), fy = v - row;
    for (let px = 0; px < side; px++) {
      const u = (px + 0.5) / side * (size - 1);
      const column = Math.min(Math.floor(u), size - 2), fx = u - column;
      for (let j = 0; j < k; j++) {
        value[j] = (1 - fy) * ((1 - fx) * at(row, column, j) + fx * at(row, column + 1, j)) +
          fy * ((1 - fx) * at(row + 1, column, j) + fx * at(row + 1, column + 1, j));
      }
      let best = 0;
      if (k === 1) best = value[0] > 0 ? 1 : 0;  // one score: class 1 where it is > 0, as predict()
      else for (let j = 1; j < k; j++) if (value[j] > value[best]) best = j;
      classes[py * side + px] = best;
    }
  }
  return classes;
}

function drawBoundary(snapshot) {
  const canvas = document.getElementById("boundary");
  const side = Math.max(100, Math.round(canvas.getBoundingClientRect().width));
  if (canvas.width !== side) { canvas.width = side; canvas.height = side; }
  const context = canvas.getContext("2d"), image = context.createImageData(side, side);
  const classes = pixelClasses(snapshot.outputs, side);
  for (let p = 0; p < side * side; p++) {
    const c = classes[p], right = p % side < side - 1 ? classes[p + 1] : c;
    const below = p + side < side * side ? classes[p + side] : c;
    const [red, green, blue] = c !== right || c !== below ? EDGE : REGIONS[c % REGIONS.length];
    image.data.set([red, green, blue, 255], 4 * p);
  }
  context.putImageData(image, 0, 0);
  const [xs, ys] = DATA.grid, last = xs.length - 1;
  const px = (v) => (v - xs[0]) / (xs[last] - xs[0]) * side;
  const py = (v) => side - (v - ys[0]) / (ys[last] - ys[0]) * side;
  DATA.points.forEach(([a, b], i) => {
    context.beginPath();
    context.arc(px(a), py(b), 4, 0, 2 * Math.PI);
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
let shown = 0;
function show(k) {
  shown = k;
  const snapshot = snapshots[k];
  lossCurve(snapshot.step);
  accuracyCurve(snapshot.step);
  if (DATA.grid) drawBoundary(snapshot);
  heatmaps.forEach((draw) => draw(snapshot));
  // Written in Python, with the numbers printed as on the command line (loss 0.3000).
  document.getElementById("status").textContent = DATA.status[k];
}
window.addEventListener("resize", () => show(shown));
// It opens on the latest snapshot (what a live view must show); play starts from the first.
player(snapshots.length, show, (k) => "snapshot " + (k + 1) + " of " + snapshots.length, snapshots.length - 1);
