"""The `backend` fixture for the storage tests in this folder."""

from tests.io.storage_fixtures import backend  # noqa: F401
