"""Whether the sources' lake paths exist, with ``azure-storage-file-datalake``: a plan-time error, not a
transform that fails hours later on Spark.

A source path is ``abfss://<container>@<account>.dfs.core.windows.net/<path>``; a path ending in ``/``
is a directory (the transforms read every file under it), otherwise a file. Each is one ``exists()``
(a HEAD of the path through the account's blob endpoint: in a Data Lake Gen2 account directories are
entries too). A path that is not an ``abfss://`` URL is not checked: the schema refuses those before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from mlspec.providers.azure.errors import error_code_and_message

ABFSS = re.compile(
    r"^abfss://(?P<container>[^@/]+)@(?P<account>[^./]+)\.dfs\.core\.windows\.net(?:/(?P<path>.*))?$"
)
STORAGE_READER = "Storage Blob Data Reader on the account (or the container)"


def account_url(account: str) -> str:
    return f"https://{account}.dfs.core.windows.net"


def missing_sources(
    sources: Mapping[str, str],
    credential: Any,
    url_for: Callable[[str], str] = account_url,
    client_options: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Source name → why, for every source whose path cannot be found (or cannot be looked at)."""
    from azure.core.exceptions import AzureError, HttpResponseError
    from azure.storage.filedatalake import DataLakeServiceClient

    options = dict(client_options or {})
    options.pop("polling_interval", None)  # an ARM client option the storage clients do not take
    clients: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name, url in sorted(sources.items()):
        match = ABFSS.match(url)
        if not match:
            continue
        account, container, path = match["account"], match["container"], match["path"] or ""
        if account not in clients:
            clients[account] = DataLakeServiceClient(url_for(account), credential=credential, **options)
        filesystem = clients[account].get_file_system_client(container)
        try:
            if not path.strip("/"):
                found = filesystem.exists()
            elif path.endswith("/"):
                found = filesystem.get_directory_client(path.rstrip("/")).exists()
            else:
                found = filesystem.get_file_client(path).exists()
        except HttpResponseError as exc:
            code, message = error_code_and_message(exc)
            status = getattr(exc, "status_code", None)
            reason = f"cannot be read: {status or 'error'}{f' ({code})' if code else ''}: {message}"
            if status in (401, 403):
                reason += f"; the deploying identity needs {STORAGE_READER}"
            missing[name] = reason
            continue
        except AzureError as exc:  # no answer at all: DNS, a proxy, a private endpoint out of reach
            _, message = error_code_and_message(exc)
            missing[name] = f"cannot be checked: {account}'s storage endpoint could not be reached: {message}"
            continue
        if not found:
            missing[name] = "does not exist"
    return missing
