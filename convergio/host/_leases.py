"""Leases in the durable store: several processes share one task hub (ADR 0023).

DurableTask.AzureStorage's model on SQLite. A ``work`` row (a scheduled activity) is taken
with a lease, ``(owner, lease_until)``, in one statement; its owner renews it while the
activity runs (a heartbeat), and a lease that runs out (its process was killed) makes the row
claimable again: at-least-once, as a queue message's visibility timeout. An instance is
stepped only by the owner of its row in ``instance_leases``, a partition of one.

Owners are ``host:pid:nonce`` tokens, so a process that starts can tell the leases of a dead
process on the same machine (its own previous run) and take them back at once.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence

from convergio._sql_rows import value_lists

from ._store import Store, WorkItem

__all__ = [
    "acquire_instance",
    "claim_work",
    "inbox_news",
    "new_owner",
    "orphans",
    "release",
    "release_dead",
    "renew",
]

_WORK_COLUMNS = "id, instance_id, execution_id, task_id, name, input"


def new_owner(pid: int | None = None, nonce: str | None = None) -> str:
    """A lease owner: this machine, a process (this one), and a nonce (pids are reused)."""
    return f"{socket.gethostname()}:{pid or os.getpid()}:{nonce or uuid.uuid4().hex[:8]}"


def claim_work(store: Store, owner: str, now: float, until: float, limit: int) -> list[WorkItem]:
    """Take up to ``limit`` rows nobody has held since before ``now`` (never leased, or their
    lease ran out), oldest first. A row not leased when committed is free from its commit on.

    A read first, so an idle poll costs no write transaction.
    """
    if limit <= 0:
        return []
    with store.reading() as db:
        (free,) = db.execute("SELECT EXISTS(SELECT 1 FROM work WHERE lease_until < ?)", (now,)).fetchone()
    if not free:
        return []
    with store.transaction() as db:
        rows = db.execute(
            f"UPDATE work SET owner = ?, lease_until = ? WHERE id IN "  # noqa: S608 - constants
            f"(SELECT id FROM work WHERE lease_until < ? ORDER BY id LIMIT ?) RETURNING {_WORK_COLUMNS}",
            (owner, until, now, limit),
        ).fetchall()
    return sorted((WorkItem(*row) for row in rows), key=lambda item: item.id)


def renew(store: Store, owner: str, until: float, *, instances: bool) -> None:
    """The heartbeat: extend every work lease of ``owner`` (and its instance leases)."""
    with store.transaction() as db:
        db.execute("UPDATE work SET lease_until = ? WHERE owner = ?", (until, owner))
        if instances:
            db.execute("UPDATE instance_leases SET until = ? WHERE owner = ?", (until, owner))


def acquire_instance(store: Store, instance_id: str, owner: str, now: float, until: float) -> bool:
    """Take or extend the lease on an instance; False while another owner's lease runs."""
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO instance_leases VALUES (?, ?, ?) ON CONFLICT (instance_id) DO UPDATE "
            "SET owner = excluded.owner, until = excluded.until "
            "WHERE instance_leases.owner = excluded.owner OR instance_leases.until < ?",
            (instance_id, owner, until, now),
        )
        return cursor.rowcount > 0


def inbox_news(store: Store, since: int, origin: str) -> tuple[int, list[tuple[str, float]]]:
    """Messages other processes queued after inbox id ``since``: the new high mark, and each
    instance with its earliest. Ids only grow in commit order (one writer at a time)."""
    with store.reading() as db:
        (top,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM inbox").fetchone()
        if top <= since:
            return since, []
        rows = db.execute(
            "SELECT instance_id, MIN(visible_at) FROM inbox WHERE id > ? AND id <= ? "
            "AND origin IS NOT ? GROUP BY instance_id",
            (since, top, origin),
        ).fetchall()
    return top, [(row[0], row[1]) for row in rows]


def orphans(store: Store, now: float) -> list[tuple[str, float]]:
    """Instances with messages that no live process holds: a dead host's, or never stepped."""
    with store.reading() as db:
        return list(
            db.execute(
                "SELECT m.instance_id, MIN(m.visible_at) FROM inbox m "
                "LEFT JOIN instance_leases l ON l.instance_id = m.instance_id "
                "WHERE l.until IS NULL OR l.until < ? GROUP BY m.instance_id",
                (now,),
            )
        )


def release_dead(store: Store) -> int:
    """Free the leases of processes of this machine that are gone (a restart after kill -9).

    A pid that is alive again (reused) keeps its leases until they run out: late, never unsafe.
    """
    with store.reading() as db:
        owners = {row[0] for row in db.execute("SELECT DISTINCT owner FROM work WHERE owner IS NOT NULL")}
        owners |= {row[0] for row in db.execute("SELECT DISTINCT owner FROM instance_leases")}
    dead = [o for o in owners if _dead_here(o)]
    release(store, dead)
    return len(dead)


def release(store: Store, owners: Sequence[str]) -> None:
    """Free every lease of ``owners``, processes known to be gone: their work is claimable at once.

    Only for a process that is gone (its host saw it exit, or its pid is dead): a live owner
    would keep running what another process now runs too.
    """
    if not owners:
        return
    with store.transaction() as db:
        for marks, values in value_lists([(o,) for o in owners]):
            db.execute(f"UPDATE work SET lease_until = 0 WHERE owner IN ({marks})", values)  # noqa: S608
            db.execute(f"DELETE FROM instance_leases WHERE owner IN ({marks})", values)  # noqa: S608


def _dead_here(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
