"""The `SharingWriter` of JSON lines (UTF-8, one `SharingRecord` a line, `\\n` between).

To a file: written under a temporary name beside it (readable by its owner only: it holds
personal data) and moved into place by `publish`, so the file appears whole or not at all,
and never before the export's audit committed. To a stream (standard output): as written,
since a stream cannot be taken back; `publish` flushes it.
"""

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from triage.sharing.schemas import SharingRecord


class JsonLinesFile:
    """Writes the export to `path`, atomically, on `publish`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        self._temporary = Path(name)
        self._out = os.fdopen(handle, "w", encoding="utf-8", newline="\n")

    def write(self, records: Sequence[SharingRecord]) -> None:
        self._out.writelines(record.model_dump_json() + "\n" for record in records)

    def publish(self) -> None:
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        os.replace(self._temporary, self.path)

    def discard(self) -> None:
        self._out.close()
        self._temporary.unlink(missing_ok=True)


class JsonLinesStream:
    """Writes the export to an open text stream as it goes."""

    def __init__(self, stream: TextIO) -> None:
        self._out = stream

    def write(self, records: Sequence[SharingRecord]) -> None:
        self._out.writelines(record.model_dump_json() + "\n" for record in records)

    def publish(self) -> None:
        self._out.flush()

    def discard(self) -> None:
        self._out.flush()
