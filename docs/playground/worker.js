// The playground's Python: Pyodide in a Web Worker, so the page stays responsive (and
// redraws pictures) while a program runs, and "Stop" can end it.
//
// The page sends {code}; the worker answers with messages the page shows:
//   {kind: "ready", seconds}                  Python and tinygrad_edu are loaded
//   {kind: "stdout" | "stderr", text}         a line printed
//   {kind: "display" | "update", id, html}    display(value), or handle.update(value)
//   {kind: "done", error}                     the program ended (error: its traceback, or null)
// Everything is fetched from the site: Pyodide's files, viz-js and the wheels.
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { instance } from "./viz/viz.js";

const here = (path) => new URL(path, import.meta.url).href;
const send = (message) => postMessage(message);

async function start() {
  const started = performance.now();
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
  send({ kind: "ready", seconds: (performance.now() - started) / 1000 });
  return pyodide;
}

const ready = start();
ready.catch((error) => send({ kind: "done", error: "Python did not start: " + error }));

onmessage = async ({ data }) => {
  const pyodide = await ready;
  const globals = pyodide.globals.get("dict")(); // each run starts from a clean namespace
  let error = null;
  try {
    await pyodide.runPythonAsync(data.code, { globals, filename: "<playground>" });
  } catch (exception) {
    error = exception.message;
  } finally {
    globals.destroy();
  }
  send({ kind: "done", error });
};
