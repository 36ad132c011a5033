"""A lease in the graph so that two builds of the same stored result never run at once.

Look-alike and segment builds delete the stored edges and write new ones in batches; two at
once would interleave and leave duplicate edges. :func:`exclusive_build` takes the lease
(``queries.build_lock``) before such a build and refuses with a clear message while another
holds it. A background thread renews the lease; a build that dies keeps it only until the
lease runs out (``ttl_s``, 10 minutes by default), so nobody has to clear a lock by hand.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from graph.backend import GraphBackend
from graph.errors import BusyError, GraphError
from queries import build_lock as q

__all__ = ["exclusive_build", "LOOKALIKES", "DEFAULT_TTL_S"]

LOOKALIKES = "lookalikes"
"""The lock of everything that rewrites ``SIMILAR_TO`` edges or segment memberships."""

DEFAULT_TTL_S = 600.0


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@contextmanager
def exclusive_build(graph: GraphBackend, key: str, job: str, *, ttl_s: float = DEFAULT_TTL_S) -> Iterator[str]:
    """Hold lock ``key`` for the ``with`` block (``job`` names the build in messages); yields the holder id.

    Raises :class:`graph.errors.BusyError` when another build holds an unexpired lease, and
    :class:`graph.errors.GraphError` after the block if the lease was lost meanwhile (renewals
    failed for longer than ``ttl_s`` and another build took it): run the build again then.
    """
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive, got {ttl_s}")
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    now = time.time()
    rows = graph.write(q.ACQUIRE_LOCK, {"key": key, "holder": holder, "job": job, "now": now, "expires": now + ttl_s})
    got = rows[0] if rows else {}
    if got.get("holder") != holder:
        raise BusyError(
            f"another {got.get('job') or key} build is running (since {_when(got.get('started') or now)}, "
            f"by {got.get('holder')}); wait for it to finish. If it died, its lock expires at "
            f"{_when(got.get('expires') or now)} and this build can run then."
        )
    stop = threading.Event()
    lost = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl_s / 3):
            try:
                if not graph.write(q.RENEW_LOCK, {"key": key, "holder": holder, "expires": time.time() + ttl_s}):
                    lost.set()
                    return
            except Exception:  # noqa: BLE001 - try again next time; the lease covers two more tries
                continue

    def release() -> list:
        stop.set()
        thread.join()
        return graph.write(q.RELEASE_LOCK, {"key": key, "holder": holder, "now": time.time()})

    thread = threading.Thread(target=renew, name=f"c360-lock-{key}", daemon=True)
    thread.start()
    try:
        yield holder
    except BaseException:
        try:
            release()
        except Exception:  # noqa: BLE001 - the build's error is the one to report; the lease runs out
            pass
        raise
    released = release()
    if lost.is_set() or not (released and released[0]["released"]):
        raise GraphError(f"the {job} build lost its lock while it ran (another build may have written too): run it again")
