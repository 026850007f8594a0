"""The embedded ``local`` provider: deploying materialises each resource in a local workspace."""

from mlspec.providers.local.provider import LocalProvider

__all__ = ["LocalProvider"]
