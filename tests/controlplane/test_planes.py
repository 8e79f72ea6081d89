"""The control plane's idioms against the real emulators: reads, optimistic concurrency, 503s, blobs."""

from __future__ import annotations

import threading

import pytest

from convergio.controlplane import BlobPlane, CosmosPlane, cas_update, global_partition, read_doc, safe_id
from convergio.errors import StoreUnavailable


def test_a_missing_document_reads_as_none(cosmos_plane: CosmosPlane) -> None:
    container = cosmos_plane.container("tenants")
    assert read_doc(container, "nope", "t1") is None
    container.create_item({"id": "yes", "tenant_id": "t1", "n": 1})
    assert read_doc(container, "yes", "t1")["n"] == 1  # type: ignore[index]
    assert read_doc(container, "yes", "t2") is None  # another partition


def test_cas_update_loses_no_increment_under_parallel_writers(cosmos_plane: CosmosPlane) -> None:
    container = cosmos_plane.container("quotas")

    def bump(doc: dict[str, object] | None) -> dict[str, object]:
        count = int(doc["n"]) if doc else 0  # type: ignore[call-overload]
        return {"n": count + 1}

    def worker() -> None:
        for _ in range(5):
            cas_update(container, "counter", "t1", bump)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read_doc(container, "counter", "t1")["n"] == 30  # type: ignore[index]


def test_cas_update_can_decline_to_write(cosmos_plane: CosmosPlane) -> None:
    container = cosmos_plane.container("quotas")
    assert cas_update(container, "x", "t1", lambda doc: None) is None
    assert read_doc(container, "x", "t1") is None


def test_ids_and_global_partitions_are_safe_for_cosmos() -> None:
    assert "/" not in safe_id("a/b", "c?d#e\\f")
    assert global_partition("key", "abc") == "~key:abc"
    assert safe_id("a/b") != safe_id("a_b")


def test_an_unreachable_cosmos_is_a_503_not_a_crash() -> None:
    key = "c2VjcmV0LWtleS1mb3ItdGVzdHM="
    with pytest.raises(StoreUnavailable) as caught:
        CosmosPlane.connect("https://127.0.0.1:9/", "db", key=key, verify_tls=False)
    assert key not in caught.value.message
    assert caught.value.status_code == 503


def test_a_malformed_key_is_a_clear_error_without_the_key() -> None:
    with pytest.raises(ValueError, match="COSMOS_KEY") as caught:
        CosmosPlane.connect("https://127.0.0.1:9/", "db", key="not base64!", verify_tls=False)
    assert "not base64!" not in str(caught.value)


def test_blobs_round_trip_on_azurite(blob_plane: BlobPlane) -> None:
    assert blob_plane.get("p/a.zip") is None
    blob_plane.put("p/a.zip", b"\x00zip")
    assert blob_plane.get("p/a.zip") == b"\x00zip"
    assert blob_plane.delete("p/a.zip") is True
    assert blob_plane.delete("p/a.zip") is False
