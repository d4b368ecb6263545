"""Fixtures shared by unit test modules. The MWAA API's: a fake backend, the server on a free
port with every answer checked against botocore's output shapes, and boto3's mwaa client."""

from collections.abc import Iterator

import pytest

from mwaa_local.api.server import ApiServer
from tests.unit.api_fakes import FakeBackend, FakeClock, environment, mwaa_client


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
