"""Shared test fixtures: the PyTorch reference and Hypothesis settings."""

from __future__ import annotations

import importlib
import os
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
