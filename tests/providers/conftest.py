"""Fixtures shared by the provider tests."""

from tests.azurite import azurite  # noqa: F401  (an Azurite blob server, for the lake path checks)
