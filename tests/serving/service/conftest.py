"""One real server for the service tests of a module (started once, stopped at the end)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.serving.service.server import Server, setup_folder

if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
    pytest.skip("the service extra is not installed: pip install 'meterforecast[service]'",
                allow_module_level=True)  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    config, keys = setup_folder(root)
    s = Server(root, config, keys).start()
    yield s
    s.stop()
