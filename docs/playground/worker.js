// The playground's Python: Pyodide in a Web Worker, so the page stays responsive (and
// redraws pictures) while a program runs, and "Stop" can end it.
//
// The page sends {code}; the worker answers with messages the page shows:
//   {kind: "ready"}                           Python and tinygrad_edu are loaded
//   {kind: "stdout" | "stderr", text}         a line printed
//   {kind: "display" | "update", id, html}    display(value), or handle.update(value)
//   {kind: "done", error}                     the program ended (error: its traceback, or null)
// Everything is fetched from the site: Pyodide's files, viz-js and the wheels.
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { instance } from "./viz/viz.js";

const here = (path) => new URL(path, import.meta.url).href;
const send = (message) => postMessage(message);

async function start() {
  const [pyodide, viz] = await Promise.all([
    loadPyodide({ indexURL: here("pyodide/") }),
    instance(),
  ]);
  globalThis.tinygradEduGraphviz = viz; // where tinygrad_edu's renderer looks (_render.py)
  pyodide.setStdout({ batched: (text) => send({ kind: "stdout", text }) });
  pyodide.setStderr({ batched: (text) => send({ kind: "stderr", text }) });
  const wheels = await (await fetch(here("wheels.json"))).json();
  for (const name of wheels) {
    const wheel = await (await fetch(here("wheels/" + name))).arrayBuffer();
    pyodide.unpackArchive(wheel, "wheel");
  }
  // display() and IPython's other names the library and the notebooks use.
  const shim = await (await fetch(here("notebook_display.py"))).text();
  pyodide.FS.writeFile("/home/pyodide/notebook_display.py", shim);
  pyodide.runPython(`
import notebook_display, tinygrad_edu, tqdm
notebook_display.install()
tqdm.tqdm.monitor_interval = 0  # tqdm's monitor is a thread, and Pyodide has none
`);
  send({ kind: "ready" });
  return pyodide;
}

const ready = start();
ready.catch((error) => send({ kind: "stderr", text: "Python did not start: " + error }));

onmessage = async ({ data }) => {
  let error = null;
  try {
    const pyodide = await ready;
    const globals = pyodide.globals.get("dict")(); // each run starts from a clean namespace
    try {
      await pyodide.pyimport("notebook_display").run_cells(data.code, globals);
    } finally {
      globals.destroy();
    }
  } catch (exception) {
    error = fromPlayground(exception.message);
  }
  send({ kind: "done", error });
};

// A traceback from the program's first line on: Pyodide's own frames above it are noise.
function fromPlayground(traceback) {
  const lines = traceback.split("\n");
  const first = lines.findIndex((line) => line.includes('File "<playground>"'));
  return first > 0 ? [lines[0], ...lines.slice(first)].join("\n") : traceback;
}
