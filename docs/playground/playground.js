// The playground page: a code area, a Run button, examples, and what the program prints
// (#output) and displays (#displays). Python runs in worker.js.
const code = document.getElementById("code");
const run = document.getElementById("run");
const stop = document.getElementById("stop");
const examples = document.getElementById("example");
const status = document.getElementById("status");
const output = document.getElementById("output");
const displays = document.getElementById("displays");

let worker = null;
let running = false;

function startWorker() {
  const started = performance.now();
  worker = new Worker("worker.js", { type: "module" });
  status.textContent = "Loading Python and tinygrad_edu…";
  run.disabled = true;
  worker.onmessage = ({ data }) => {
    if (data.kind === "ready") {
      // performance.now() counts from the moment the page was opened
      status.dataset.ready = (performance.now() / 1000).toFixed(2);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      status.textContent = "Python started in " + seconds + " s" + (running ? "; running…" : ": ready.");
      run.disabled = running;
    } else if (data.kind === "stdout" || data.kind === "stderr") {
      print(data.text + "\n", data.kind);
    } else if (data.kind === "display") {
      const shown = document.createElement("div");
      shown.className = "shown";
      shown.dataset.id = data.id;
      shown.innerHTML = data.html;
      displays.appendChild(shown);
    } else if (data.kind === "update") {
      const shown = displays.querySelector('[data-id="' + data.id + '"]');
      if (shown) {
        update(shown, data.html);
        shown.dataset.updates = Number(shown.dataset.updates || 0) + 1; // counted for the tests
      }
    } else if (data.kind === "done") {
      if (data.error) print(data.error, "stderr");
      finish(data.error ? "Failed." : "Done.");
    }
  };
}

// A page (an <iframe>) is redrawn by loading the new one out of sight and swapping it in
// when it has drawn itself, so a live view never flashes blank between two updates.
function update(shown, html) {
  const old = shown.querySelector("iframe");
  const next = document.createElement("div");
  next.innerHTML = html;
  const frame = next.querySelector("iframe");
  if (!old || !frame || next.children.length !== 1) {
    shown.innerHTML = html;
    return;
  }
  frame.classList.add("loading");
  frame.addEventListener("load", () => {
    shown.querySelectorAll("iframe").forEach((other) => other !== frame && other.remove());
    frame.classList.remove("loading");
  });
  shown.appendChild(frame);
}

function print(text, kind) {
  const span = document.createElement("span");
  span.className = kind;
  span.textContent = text;
  output.appendChild(span);
}

function finish(message) {
  running = false;
  run.disabled = false;
  stop.disabled = true;
  status.textContent = message;
  status.dataset.state = "done";
}

function runCode() {
  if (running) return;
  running = true;
  output.textContent = "";
  displays.textContent = "";
  run.disabled = true;
  stop.disabled = false;
  status.textContent = "Running…";
  status.dataset.state = "running";
  worker.postMessage({ code: code.value });
}

async function loadExample(name) {
  const response = await fetch("examples/" + name + ".py");
  code.value = await response.text();
  examples.value = name;
}

run.addEventListener("click", runCode);
stop.addEventListener("click", () => {
  worker.terminate(); // the only way to stop Python mid-run: start a fresh one
  finish("Stopped.");
  startWorker();
});
examples.addEventListener("change", () => loadExample(examples.value));
code.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    runCode();
  } else if (event.key === "Tab" && !event.shiftKey) {
    event.preventDefault(); // indent, instead of leaving the code area
    code.setRangeText("    ", code.selectionStart, code.selectionEnd, "end");
  }
});

// A notebook's code, offered by its page on the site: shown, run when the reader asks.
async function loadNotebook(name) {
  const response = await fetch("notebooks/" + encodeURIComponent(name) + ".py");
  if (!response.ok) {
    status.textContent = "No notebook " + name + " here.";
    return loadExample(examples.value);
  }
  code.value = await response.text();
  examples.value = "";
  status.textContent = "Notebook " + name + ": press Run.";
}

startWorker();
const query = new URLSearchParams(location.search);
const asked = query.get("example");
if (asked && examples.querySelector('option[value="' + CSS.escape(asked) + '"]')) {
  loadExample(asked).then(runCode); // runs as soon as Python is ready (the worker queues it)
} else if (query.get("notebook")) {
  loadNotebook(query.get("notebook"));
} else {
  loadExample(examples.value);
}
