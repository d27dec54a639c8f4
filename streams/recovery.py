"""Faust's recovery, with the stream queues cleared before the seek instead of after it.

faust-streaming 0.15.x ends a recovery with: resume stream partitions, seek them to the
committed offsets, then ``flow_control.resume()``, which clears every stream queue.
Records the fetcher delivers from the committed offset before that clear are dropped
while Faust's read offset has already passed them, so a restarted worker silently
skipped the first messages after its committed offset (faust-streaming #596, #606;
seen here on most restarts, measured by ``streams.offsets.OffsetWatch``). Here the
queues are cleared first and the final resume keeps them. A record fetched before the
seek may then be read twice, which applying absorbs (duplicates by ``event_id``).
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class ClearFirstRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        flow = self.app.flow_control
        flow.clear()  # drop what is queued now, before the seek
        flow.clear = _keep  # the resume inside must keep what is fetched after the seek
        try:
            await super().on_recovery_completed(generation_id)
        finally:
            del flow.clear  # back to the class's method


def _keep() -> None:
    return None


class ChurnTableManager(TableManager):
    """The table manager Faust builds, with :class:`ClearFirstRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = ClearFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
