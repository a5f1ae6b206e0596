"""Shared test fixtures: the PyTorch reference, a headless browser and Hypothesis settings."""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest
from hypothesis import settings

# Shared machines are noisy: no per-example deadline; CI runs the same examples every time.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch in float64, the independent reference for cross-checks.

    Locally a missing PyTorch skips these tests; in CI (``CI`` set) it is an error,
    so the cross-checks can never pass by not running. The one way to leave them out in
    CI is to say so: ``TINYGRAD_EDU_WITHOUT_TORCH=1`` skips them, naming the variable, for
    CI's runs on the other Python versions, which install no PyTorch (see .ci/run).
    """
    if os.environ.get("TINYGRAD_EDU_WITHOUT_TORCH"):
        pytest.skip("TINYGRAD_EDU_WITHOUT_TORCH is set: no PyTorch cross-checks in this run")
    if os.environ.get("CI"):
        module = importlib.import_module("torch")
    else:
        module = pytest.importorskip("torch")
    module.set_default_dtype(module.float64)
    return module


# The browser for the interactive pages: Chromium from the operating system's packages,
# driven by Playwright. Nothing that could reach the network is left switched on.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (``/usr/bin/chromium``, or ``chromium`` on PATH).

    Locally a missing browser or Playwright skips the browser tests; in CI (``CI`` set)
    it is an error, so the pages are always driven there.
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if os.environ.get("CI"):
        sync_api = importlib.import_module("playwright.sync_api")
        assert executable, "CI: no chromium on PATH; .ci/run installs it with apt-get"
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
        if executable is None:
            pytest.skip("no chromium on PATH (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def c_compiler() -> str:
    """The C compiler the C backend of programs finds (``$CC``, cc, gcc or clang).

    Locally a missing compiler skips the C backend's tests, saying why; in CI (``CI``
    set) it is an error, so those tests can never pass by not running.
    """
    from tinygrad_edu.program_c import CompilerNotFoundError, _compiler

    try:
        return _compiler()[0][0]
    except CompilerNotFoundError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no C compiler for the C backend of programs: {error}")


def train_eagerly(loss_fn, optimizer, schedule, batches) -> list[float]:
    """The eager training loop, one step a batch: the reference a compiled step is held to.

    ``loss = loss_fn(batch)``, ``zero_grad()``, ``backward()``, ``optimizer.step()``,
    ``schedule.step()``; returns the losses.
    """
    losses = []
    for batch in batches:
        loss = loss_fn(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.data)
    return losses


def interrupt_when(
    code: str, argv: list[str], cwd: object, line: str, *, on_stderr: bool
) -> tuple[str, int, str]:
    """Run ``python -c code *argv`` in ``cwd`` and press Ctrl-C once it prints ``line``
    (on standard error, or output); returns the last line read, the exit status and the
    rest of standard error. The child is never left running, whatever fails."""
    import signal
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        stream = child.stderr if on_stderr else child.stdout
        try:
            seen = stream.readline()
            while seen and seen != line:
                seen = stream.readline()
            child.send_signal(signal.SIGINT)
            _, err = child.communicate()
        finally:
            child.kill()
    return seen, child.returncode, err
