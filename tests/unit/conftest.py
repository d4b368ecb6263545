"""Fixtures shared by unit test modules. The MWAA API's: a fake backend, the server on a free
port with every answer checked against botocore's output shapes, and boto3's mwaa client."""

import os
from collections.abc import Iterator

import pytest

from mwaa_local.api.server import ApiServer
from tests.unit.api_fakes import FakeBackend, FakeClock, environment, mwaa_client


@pytest.fixture(autouse=True)
def _no_local_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see the settings their files give, not the MWAA_LOCAL_* variables of the shell
    that runs them (.ci/run exports local images and the constraints mirror for the e2e suite)."""
    for name in list(os.environ):
        if name.startswith("MWAA_LOCAL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def api_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api_backend() -> FakeBackend:
    return FakeBackend(environment("MyAirflow3"), environment("MyAirflow2", version="2.10.3"))


@pytest.fixture
def api_server(api_backend: FakeBackend, api_clock: FakeClock) -> Iterator[ApiServer]:
    with ApiServer(api_backend, validate_responses=True, clock=api_clock) as running:
        yield running
    assert running.shape_errors == []


@pytest.fixture
def mwaa(api_server: ApiServer):
    """boto3's mwaa client for the local endpoint (host prefix injection off)."""
    return mwaa_client(api_server)
