"""The SharingWriter protocol: how an export's records leave the service.

Implementations live in `adapters/sharing/` (JSON lines to a file or standard output).
"""

from collections.abc import Sequence
from typing import Protocol

from triage.sharing.schemas import SharingRecord


class SharingWriter(Protocol):
    """Writes one export's records, batch by batch, in the order given.

    The export calls `publish` once every record is written and the audit of each is
    committed, or `discard` when the export failed (nothing is then audited). A writer that
    can hold its records back until `publish` (a file) must: a partner never sees a record
    whose sharing was not audited.
    """

    def write(self, records: Sequence[SharingRecord]) -> None:
        """Write these records after the ones written before."""

    def publish(self) -> None:
        """The export is complete and audited: make it visible (a file moved into place)."""

    def discard(self) -> None:
        """The export failed: remove what was written, where that can be done."""
