const n = DATA.nodes.length;
const groups = {};
for (const g of document.querySelectorAll("#graph g.node, #graph g.edge")) {
  groups[g.querySelector("title").textContent] = g;
}
const values = DATA.nodes.map((node, i) => {
  const texts = groups["v" + i].querySelectorAll("text");
  const data = texts[texts.length - 2], grad = texts[texts.length - 1];
  return { data, grad, dataText: data.textContent, gradText: grad.textContent };
});
function edgesOf(i) {
  if (!DATA.nodes[i].hasOp) return [];
  return [groups["op" + i + "->v" + i], ...DATA.nodes[i].parents.map((p) => groups["v" + p + "->op" + i])];
}
function show(k) {
  for (const g of Object.values(groups)) g.classList.remove("current");
  let current = -1, step = null, pass = "";
  if (k >= 1 && k <= n) { current = k - 1; step = DATA.forward[current]; pass = "forward"; }
  if (k > n) { current = 2 * n - k; step = DATA.backward[k - n - 1]; pass = "backward"; }
  values.forEach((v, i) => {
    const known = i < k;  // the forward pass reaches node i at position i+1
    const gradKnown = k > n && i >= 2 * n - k;
    v.data.textContent = known ? v.dataText : "data ?";
    v.grad.textContent = gradKnown ? v.gradText : "grad ?";
    groups["v" + i].classList.toggle("unknown", !known);
    if (DATA.nodes[i].hasOp) groups["op" + i].classList.toggle("unknown", !known);
  });
  for (const g of document.querySelectorAll("#graph g.edge")) g.classList.remove("unknown");
  const headline = document.getElementById("headline"), lines = document.getElementById("lines");
  lines.replaceChildren();
  if (current < 0) {
    headline.textContent = "Nothing computed yet: press next to run the forward pass.";
    return;
  }
  groups["v" + current].classList.add("current");
  if (DATA.nodes[current].hasOp) groups["op" + current].classList.add("current");
  for (const edge of edgesOf(current)) edge.classList.add("current");
  headline.textContent = pass + " pass: " + step.title;
  for (const text of step.lines) {
    const item = document.createElement("li");
    item.textContent = text;
    lines.appendChild(item);
  }
}
const go = player(2 * n + 1, show, (k) =>
  k === 0 ? "start" : k <= n ? "forward step " + k + " of " + n : "backward step " + (k - n) + " of " + n);
document.getElementById("to-forward").onclick = () => go(1);
document.getElementById("to-backward").onclick = () => go(n + 1);
