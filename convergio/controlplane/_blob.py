"""Blob Storage: the control plane's large objects (plugin packages), in one container."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from ._cosmos import unavailable

__all__ = ["BlobPlane"]


class BlobPlane:
    """One blob container, created on first use (the app's identity holds Storage Blob Data Owner).

    Args:
        service: An ``azure.storage.blob.BlobServiceClient``.
        container: The container's name.
    """

    def __init__(self, service: Any, container: str = "convergio") -> None:
        self._client = service.get_container_client(container)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        *,
        connection_string: str = "",
        service_uri: str = "",
        credential: Any = None,
        container: str = "convergio",
    ) -> BlobPlane:
        """Open Blob Storage from ``AzureWebJobsStorage`` (a connection string, e.g. Azurite's) or
        ``AzureWebJobsStorage__blobServiceUri`` with the app's identity."""
        from azure.storage.blob import BlobServiceClient

        if connection_string:
            return cls(BlobServiceClient.from_connection_string(connection_string), container)
        if not service_uri:
            raise ValueError("set AzureWebJobsStorage or AzureWebJobsStorage__blobServiceUri")
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return cls(BlobServiceClient(service_uri, credential=credential), container)

    def _container(self) -> Any:
        if not self._ready:
            from azure.core.exceptions import ResourceExistsError

            with self._lock:
                if not self._ready:
                    with contextlib.suppress(ResourceExistsError):
                        self._client.create_container()
                    self._ready = True
        return self._client

    def put(self, name: str, data: bytes) -> None:
        """Write (or replace) one blob."""
        with unavailable("blob"):
            self._container().upload_blob(name, data, overwrite=True)

    def get(self, name: str) -> bytes | None:
        """One blob's bytes, or None when there is none."""
        from azure.core.exceptions import ResourceNotFoundError

        with unavailable("blob"):
            try:
                return bytes(self._container().download_blob(name).readall())
            except ResourceNotFoundError:
                return None

    def delete(self, name: str) -> bool:
        """Delete one blob; False when there was none."""
        from azure.core.exceptions import ResourceNotFoundError

        with unavailable("blob"):
            try:
                self._container().delete_blob(name)
            except ResourceNotFoundError:
                return False
            return True
