"""accounts: key uses counted in process memory, written to the database in batches.

A request adds one to its key's pending count under a lock (well under a microsecond, no
I/O). A daemon thread writes the pending counts every ``API_KEY_USAGE_FLUSH_SECONDS`` with
one ``UPDATE ... SET use_count = use_count + n`` per key (`accounts.services.
api_key_usage_flush`), so concurrent writers in other processes add up. Counts are also
written when a key is revoked (the revoking process, and every process hearing of it) and
when a worker exits (atexit, and gunicorn's ``worker_exit`` hook). A write that fails
(database down) puts its counts back, to go with the next write: nothing is lost while the
process lives. Redis plays no part, so a Redis outage loses nothing either.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Pending:
    count: int
    last_used: float  # time.time() of the latest use


class UsageBuffer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[int, Pending] = {}
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()

    def add(self, key_id: int, now: float) -> None:
        with self.lock:
            entry = self.pending.get(key_id)
            if entry is None:
                self.pending[key_id] = Pending(1, now)
            else:
                entry.count += 1
                if now > entry.last_used:
                    entry.last_used = now

    def take(self, key_id: int | None = None) -> dict[int, Pending]:
        """Remove and return the pending counts (of one key, or all)."""
        with self.lock:
            if key_id is None:
                taken, self.pending = self.pending, {}
                return taken
            entry = self.pending.pop(key_id, None)
            return {} if entry is None else {key_id: entry}

    def give_back(self, counts: dict[int, Pending]) -> None:
        """Put counts that could not be written back, merged with what came in meanwhile."""
        with self.lock:
            for key_id, entry in counts.items():
                current = self.pending.get(key_id)
                if current is None:
                    self.pending[key_id] = entry
                else:
                    current.count += entry.count
                    current.last_used = max(current.last_used, entry.last_used)

    def ensure_flusher(self, flush: Callable[[], object], every: Callable[[], float]) -> None:
        if self.thread is not None:
            return
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(
                target=self._run, args=(flush, every), name="key-usage-flusher", daemon=True
            )
            self.thread.start()

    def _run(self, flush: Callable[[], object], every: Callable[[], float]) -> None:
        while True:
            self.wake.wait(every())
            self.wake.clear()
            # Outside the request cycle nobody else retires this thread's broken or expired
            # database connection (after a database restart, say): do it here.
            close_old_connections()
            try:
                flush()
            except Exception:  # the counts were given back; try again next period
                logger.warning("key usage flush failed; kept for the next one", exc_info=True)
                connection.close()

    def flush_soon(self) -> None:
        """Have the writer thread write now (one thread writes, whoever asks)."""
        self.wake.set()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.pending = {}
        self.thread = None
        self.wake = threading.Event()


buffer = UsageBuffer()
# Uses counted in the parent before a fork are the parent's to write, not the child's.
os.register_at_fork(after_in_child=buffer.reset)


def flush_at_exit() -> None:
    """Write what is pending (idempotent: atexit and gunicorn's worker_exit both call it)."""
    if not buffer.pending:
        return
    from accounts.services import api_key_usage_flush

    try:
        api_key_usage_flush()
    except Exception:
        logger.exception("key usage flush at exit failed")


atexit.register(flush_at_exit)
