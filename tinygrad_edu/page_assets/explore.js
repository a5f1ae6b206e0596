const n = DATA.nodes.length;
const groups = {};
for (const g of document.querySelectorAll("#graph g.node, #graph g.edge")) {
  groups[g.querySelector("title").textContent] = g;
}
const values = DATA.nodes.map((node, i) => {
  const texts = groups["v" + i].querySelectorAll("text");
  const data = texts[texts.length - 2], grad = texts[texts.length - 1];
  return { data, grad, dataText: data.textContent };
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
  // Each box shows the gradient as the backward steps so far left it: complete for the
  // nodes done, the sum so far for a node some of whose users have passed their share
  // (the number the sentence writes out), "?" for the others.
  const grads = new Array(n).fill(null);
  for (let s = 0; s < k - n; s++) for (const [i, text] of DATA.backward[s].grads) grads[i] = text;
  values.forEach((v, i) => {
    const known = i < k;  // the forward pass reaches node i at position i+1
    const complete = k > n && i >= 2 * n - k;
    v.data.textContent = known ? v.dataText : "data ?";
    v.grad.textContent = "grad " + (grads[i] === null ? "?" : grads[i]);
    v.grad.classList.toggle("partial", grads[i] !== null && !complete);
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
