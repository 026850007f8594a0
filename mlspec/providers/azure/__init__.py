"""The Azure provider (``provider: azure``). Its SDKs are imported only when one of its clients is used."""

from mlspec.providers.azure.provider import AzureProvider, deploys, refuse_undeployable

__all__ = ["AzureProvider", "deploys", "refuse_undeployable"]
