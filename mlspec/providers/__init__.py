"""Providers: who creates, reads, updates and deletes resources. The core never knows a cloud.

:mod:`mlspec.providers.base` is the protocol; :mod:`mlspec.providers.local` the embedded
default; :mod:`mlspec.providers.registry` picks one by the manifest's ``provider``.
"""
