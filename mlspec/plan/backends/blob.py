"""The Azure Blob Storage state backend.

Blobs in the configured container (default ``mlspec-state``), under a prefix (default the
project name): ``<prefix>/<env>.json`` (the state), ``<prefix>/<env>.json.backup`` (the
previous version) and ``<prefix>/<env>.lock``. The lock is a 60-second lease on the lock
blob, renewed by a background thread while held, with who/operation/created in the blob's
metadata. State writes are conditional on the ETag last read or written (``If-Match``), or on
the blob not existing yet, so a write never overwrites one it has not seen. During an apply,
each change is one block appended to the append blob ``<prefix>/<env>.journal``
(:mod:`mlspec.plan.journal`), conditional on the journal's ETag; the document is rewritten when
the apply ends.

Connection: ``AZURE_STORAGE_CONNECTION_STRING`` when set (Azurite, SAS or key based), else
``https://<storage_account>.blob.core.windows.net`` with ``DefaultAzureCredential``. The
Azure SDK is imported only when this backend is used.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.plan import journal
from mlspec.plan.backends.blob_connection import (
    CONNECTION_STRING_ENV,
    DeadlineExceeded,
    azure_errors,
    client_options,
    within_deadline,
)
from mlspec.plan.lock import LockHeldError, LockInfo, lock_error
from mlspec.plan.state import State, StateChange, conflict_error
from mlspec.redaction import printable, strip_query

LEASE_SECONDS = 60
RENEW_EVERY_SECONDS = 20.0
MAX_JOURNAL_BLOCKS = 40_000
"""An append blob takes 50,000 blocks; the journal is folded into the document well before."""


def _sdk() -> Any:
    try:
        import azure.storage.blob as blob_sdk
    except ImportError:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS805",
                    "the azure_blob state backend needs the azure-storage-blob package",
                    ("state", "backend"),
                    hint="pip install 'azure-storage-blob>=12.19,<13'",
                )
            ]
        ) from None
    return blob_sdk


T = TypeVar("T")


class BlobBackend:
    def __init__(self, container: Any, prefix: str, environment: str) -> None:
        self.container = container
        self.environment = environment
        base = f"{prefix.strip('/')}/{environment}" if prefix.strip("/") else environment
        self.state_name = f"{base}.json"
        self.backup_name = f"{base}.json.backup"
        self.lock_name = f"{base}.lock"
        self.journal_name = f"{base}.journal"
        self._journal_etag: str | None = None  # the journal blob as last read or appended to
        self._journal_continues = False
        self._journal_bytes = 0
        self._journal_blocks = 0
        self._document_serial = 0  # the document's serial as last read or written
        self._etag: str | None = None
        self._seen = False  # read() was called: _etag None then means "did not exist"
        self._raw: bytes | None = None
        self._lease: Any = None
        self._container_ready = False
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._unreachable: DeadlineExceeded | None = None

    @classmethod
    def from_config(
        cls, config: dict[str, Any], project: str, environment: str, **overrides: Any
    ) -> BlobBackend:
        """The backend for the spec's ``state:`` settings; ``client_options`` (tests: ``transport=``)
        are passed to the SDK client on top of :func:`client_options`."""
        sdk = _sdk()
        options = {**client_options(sdk), **overrides}
        connection = os.environ.get(CONNECTION_STRING_ENV)
        if connection:
            try:
                service = sdk.BlobServiceClient.from_connection_string(connection, **options)
            except ValueError:  # the SDK's message may quote the string (and its key): never show it
                raise MlspecError(
                    [
                        Diagnostic.error(
                            "MLS806",
                            f"{CONNECTION_STRING_ENV} is not a storage connection string",
                            ("state",),
                            hint="it looks like BlobEndpoint=https://...;SharedAccessSignature=... "
                            "or DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...",
                        )
                    ]
                ) from None
        else:
            account = config.get("storage_account")
            if not account:
                raise MlspecError(
                    [
                        Diagnostic.error(
                            "MLS806",
                            "the azure_blob state backend needs state.storage_account "
                            f"(or {CONNECTION_STRING_ENV} in the environment)",
                            ("state", "storage_account"),
                        )
                    ]
                )
            from azure.identity import DefaultAzureCredential

            service = sdk.BlobServiceClient(
                f"https://{account}.blob.core.windows.net", credential=DefaultAzureCredential(), **options
            )
        container = service.get_container_client(str(config.get("container") or "mlspec-state"))
        return cls(container, str(config.get("prefix") or project), environment)

    def _within_deadline(self, operation: Callable[[], T]) -> T:
        """One operation under the deadline; after one timed out, every later one fails at once: a
        command (a read, then the lock's release) must not wait out the deadline twice."""
        if self._unreachable is not None:
            raise self._unreachable
        try:
            return within_deadline(self.container_url, operation)
        except DeadlineExceeded as error:
            self._unreachable = error
            raise

    @property
    def container_url(self) -> str:
        """The container's URL without its query string (a SAS token must never be printed)."""
        return strip_query(self.container.url).rstrip("/")

    @property
    def description(self) -> str:
        return f"{self.container_url}/{self.state_name}"

    @property
    def lock_url(self) -> str:
        return f"{self.container_url}/{self.lock_name}"

    def neighbours(self) -> list[tuple[str, State]]:
        """None: a container is shared by many projects by design, so another project's state beside
        this one is no evidence of a rename (the recorded owner is still checked on every read)."""
        return []

    # --- state ----------------------------------------------------------------------------

    def read(self) -> State | None:
        with azure_errors(self.container_url):
            return self._within_deadline(self._read)

    def _read(self) -> State | None:
        from azure.core.exceptions import ResourceNotFoundError

        self._seen = True
        document: State | None = None
        try:
            downloader = self.container.get_blob_client(self.state_name).download_blob()
            raw: bytes = downloader.readall()
        except ResourceNotFoundError:
            self._etag, self._raw = None, None
        else:
            self._etag, self._raw = downloader.properties.etag, raw
            document = State.from_bytes(raw, self.description)
        self._document_serial = document.serial if document is not None else 0
        return self._replay(document)

    def _replay(self, document: State | None) -> State | None:
        """``document`` with the journal of an apply that did not finish, when one continues it."""
        from azure.core.exceptions import ResourceNotFoundError

        self._journal_etag, self._journal_continues = None, False
        try:
            downloader = self.container.get_blob_client(self.journal_name).download_blob()
            raw: bytes = downloader.readall()
        except ResourceNotFoundError:
            return document
        self._journal_etag = downloader.properties.etag
        replayed = journal.replay(document, raw, f"{self.container_url}/{self.journal_name}")
        # Blocks are appended whole, so a continued journal has no cut-short line to drop.
        self._journal_continues = replayed.continues and replayed.valid_bytes == len(raw)
        self._journal_bytes, self._journal_blocks = len(raw), replayed.records + 1
        return replayed.state

    def write(self, state: State) -> None:
        with azure_errors(self.container_url):
            self._within_deadline(lambda: self._write(state))

    def _write(self, state: State) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        if not self._seen:
            self._read()  # learn the ETag to write against
        self._ensure_container()
        if self._raw is not None:
            self.container.get_blob_client(self.backup_name).upload_blob(self._raw, overwrite=True)
        data = state.to_bytes()
        blob = self.container.get_blob_client(self.state_name)
        try:
            if self._etag is None:
                response = blob.upload_blob(data, overwrite=False)
            else:
                response = blob.upload_blob(
                    data, overwrite=True, etag=self._etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceModifiedError, ResourceExistsError):
            raise conflict_error(
                f"{self.description} was written by someone else since this process read it",
                "was the lock broken with force-unlock while an apply ran? re-run plan",
                self.description,
            ) from None
        self._etag, self._raw, self._document_serial = response["etag"], data, state.serial
        # The journal's changes are in the document now; a journal left by a failed delete continues
        # an older serial, and every read ignores it.
        if self._journal_etag is not None:
            from azure.core.exceptions import ResourceNotFoundError

            with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
                self.container.get_blob_client(self.journal_name).delete_blob(
                    etag=self._journal_etag, match_condition=MatchConditions.IfNotModified
                )
        self._journal_etag, self._journal_continues = None, False

    def fold_journal(self, state: State) -> None:
        if self._journal_etag is not None and state.serial != self._document_serial:
            self.write(state)

    def append(self, state: State, change: StateChange) -> None:
        with azure_errors(self.container_url):
            self._within_deadline(lambda: self._append(state, change))

    def _append(self, state: State, change: StateChange) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        if not self._seen:
            self._read()
        self._ensure_container()
        if not self._journal_continues and state.serial - 1 != self._document_serial:
            # The state read holds changes a journal recorded that cannot be continued (its last block
            # damaged): a new journal would not continue the document, so the document takes them all.
            self._write(state)
            return
        blob = self.container.get_blob_client(self.journal_name)
        try:
            if not self._journal_continues:
                # A new journal, replacing only one this process read (already folded into the document).
                condition = (
                    {"etag": self._journal_etag, "match_condition": MatchConditions.IfNotModified}
                    if self._journal_etag is not None
                    else {"match_condition": MatchConditions.IfMissing}
                )
                created = blob.create_append_blob(**condition)
                base = State(state.project, state.environment, state.lineage, self._document_serial)
                first = journal.header(base)
                response = blob.append_block(
                    first, etag=created["etag"], match_condition=MatchConditions.IfNotModified
                )
                self._journal_etag, self._journal_continues = response["etag"], True
                self._journal_bytes, self._journal_blocks = len(first), 1
            data = journal.record(change)
            response = blob.append_block(
                data, etag=self._journal_etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
            raise conflict_error(
                f"{self.container_url}/{self.journal_name} was written by someone else while this process "
                "held the lock",
                "was the lock broken with force-unlock while an apply ran? re-run plan",
                self.description,
            ) from None
        self._journal_etag = response["etag"]
        self._journal_bytes += len(data)
        self._journal_blocks += 1
        too_big = self._journal_bytes > max(journal.COMPACT_MIN_BYTES, len(self._raw or b""))
        if too_big or self._journal_blocks >= MAX_JOURNAL_BLOCKS:
            self._write(state)

    def retire(self) -> str:
        with azure_errors(self.container_url):
            return self._within_deadline(self._retire)

    def _retire(self) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        state = self._read()
        if state is not None and self._journal_etag is not None:
            self._write(state)  # fold an unfinished apply's journal in: the moved copy is then whole
        if self._raw is None:
            return self.description
        moved = f"{self.state_name}.moved"
        self.container.get_blob_client(moved).upload_blob(self._raw, overwrite=True)
        try:
            self.container.get_blob_client(self.state_name).delete_blob(
                etag=self._etag, match_condition=MatchConditions.IfNotModified
            )
        except ResourceModifiedError:
            raise conflict_error(
                f"{self.description} was written by someone else while it was being moved",
                "re-run the move",
                self.description,
            ) from None
        self._etag, self._raw = None, None
        return f"{self.container_url}/{moved}"

    # --- lock -----------------------------------------------------------------------------

    def lock(self, operation: str) -> LockInfo:
        with azure_errors(self.container_url):
            return self._within_deadline(lambda: self._lock(operation))

    def _lock(self, operation: str) -> LockInfo:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        self._ensure_container()
        blob = self.container.get_blob_client(self.lock_name)
        with contextlib.suppress(ResourceExistsError, HttpResponseError):
            blob.upload_blob(b"", overwrite=False)
        info = LockInfo.new(operation, self.lock_url)
        try:
            lease = blob.acquire_lease(lease_duration=LEASE_SECONDS, lease_id=info.id)
        except HttpResponseError as exc:
            if getattr(exc, "error_code", None) in (
                "LeaseAlreadyPresent",
                "LeaseIdMismatchWithLeaseOperation",
            ) or (exc.status_code == 409):
                raise LockHeldError(self._holder(), self.environment) from None
            raise
        blob.set_blob_metadata(info.to_json(), lease=lease)
        self._lease = lease
        self._stop_renewing.clear()
        self._renewer = threading.Thread(target=self._renew, name="mlspec-lease-renewal", daemon=True)
        self._renewer.start()
        return info

    def unlock(self, info: LockInfo) -> None:
        with azure_errors(self.container_url):
            self._within_deadline(lambda: self._unlock(info))

    def _unlock(self, info: LockInfo) -> None:
        from azure.core.exceptions import HttpResponseError

        self._stop_renewing.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        lease, self._lease = self._lease, None
        if lease is None:
            return
        with contextlib.suppress(HttpResponseError):  # broken by force-unlock meanwhile
            self.container.get_blob_client(self.lock_name).set_blob_metadata({}, lease=lease)
            lease.release()

    def current_lock(self) -> LockInfo | None:
        with azure_errors(self.container_url):
            return self._within_deadline(self._current_lock)

    def _current_lock(self) -> LockInfo | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            props = self.container.get_blob_client(self.lock_name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        if props.lease.state != "leased":
            return None
        return LockInfo.from_json(dict(props.metadata or {}), self.lock_url)

    def force_unlock(self, lock_id: str) -> LockInfo:
        with azure_errors(self.container_url):
            return self._within_deadline(lambda: self._force_unlock(lock_id))

    def _force_unlock(self, lock_id: str) -> LockInfo:
        sdk = _sdk()
        current = self._current_lock()
        if current is None:
            raise lock_error(f"no lock to remove: {self.lock_url} is not leased", where=self.lock_url)
        if current.id != lock_id:
            raise lock_error(
                f"lock id {printable(lock_id)!r} does not match the current lock, held by {current.describe()}",
                "pass the lock id exactly as the error that named the holder printed it",
                self.lock_url,
            )
        sdk.BlobLeaseClient(self.container.get_blob_client(self.lock_name)).break_lease(lease_break_period=0)
        return current

    # --- helpers --------------------------------------------------------------------------

    def _holder(self) -> LockInfo:
        """Who holds the lease; waits briefly for a holder that has not written its metadata yet."""
        holder: LockInfo | None = None
        for _ in range(20):
            holder = self._current_lock()
            if holder is not None and holder.id != "?":
                return holder
            time.sleep(0.05)
        return holder or LockInfo("?", "unknown (lock blob leased without metadata)", "?", "?", self.lock_url)

    def _renew(self) -> None:
        while not self._stop_renewing.wait(RENEW_EVERY_SECONDS):
            lease = self._lease
            if lease is None:
                return
            try:
                lease.renew()
            except Exception:  # a lost lease shows up as a failed conditional write; keep trying
                continue

    def _ensure_container(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        if not self._container_ready:
            with contextlib.suppress(ResourceExistsError):
                self.container.create_container()
            self._container_ready = True
