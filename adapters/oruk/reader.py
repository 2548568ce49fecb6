"""Reads an Open Referral UK document from a file or an http(s) URL; a service list's pages
are followed from a URL (`?page=2`, ...) until the last, as the HSDS API pages them."""

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from adapters.oruk.documents import Found, PageInfo, page_info, services_in
from triage.providers.listing import DirectoryUnreadable, Listing

MAX_BYTES = 32 * 1024 * 1024  # one document or page: a directory's whole list is far less
MAX_PAGES = 1000


class OrukReader:
    """The `DirectoryReader` of Open Referral UK directories."""

    def __init__(
        self, *, timeout: float = 30.0, max_bytes: int = MAX_BYTES, max_pages: int = MAX_PAGES
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_pages = max_pages

    def read(self, source: str) -> Listing:
        """Every service of the document at `source` (see `DirectoryReader.read`)."""
        if urllib.parse.urlsplit(source).scheme in ("http", "https"):
            return self._read_pages(source)
        path = Path(source)
        try:
            if path.stat().st_size > self.max_bytes:
                raise DirectoryUnreadable(f"{path}: larger than {self.max_bytes:,} bytes")
            document = _json(path.read_bytes(), str(path))
        except OSError as error:
            raise DirectoryUnreadable(f"{path}: cannot be read ({error.strerror})") from None
        found, notes = services_in(document), []
        page = page_info(document)
        if page is not None and not page.is_last:
            notes.append(
                f"{path} holds page {page.number or 1} of {page.total or 'several'} of a list: "
                "the others are not read (give the list's URL to read every page)"
            )
        return Listing(source, found.services, found.problems, pages=1, notes=notes)

    def _read_pages(self, url: str) -> Listing:
        document = self._get(url)
        page = page_info(document)
        if page is None or page.is_last:  # a service, an organization, or a list of one page
            found = services_in(document)
            return Listing(url, found.services, found.problems)
        every, notes, number, read = Found(), [], page.number or 1, 1
        while True:
            found = services_in(document, prefix=f"page {number}: ")
            every.services += found.services
            every.problems += found.problems
            if page.is_last or not found.services and not found.problems:
                break
            if read >= self.max_pages:
                notes.append(f"stopped after {read} pages: the list goes on")
                break
            number += 1
            next_url = _with_page(url, number)
            document, read = self._get(next_url), read + 1
            page = page_info(document) or PageInfo(None, None, True)
            if page.number is not None and page.number != number:
                notes.append(f"{next_url} answered page {page.number}: the pages end there")
                read -= 1
                break
        return Listing(url, every.services, every.problems, pages=read, notes=notes)

    def _get(self, url: str) -> Any:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "triage-oruk-import"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as error:
            raise DirectoryUnreadable(f"GET {url} answered {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DirectoryUnreadable(f"GET {url} failed: {reason}") from None
        if len(body) > self.max_bytes:
            raise DirectoryUnreadable(f"GET {url}: larger than {self.max_bytes:,} bytes")
        return _json(body, url)


def _with_page(url: str, number: int) -> str:
    """The list's URL asking for page `number` (its other parameters kept)."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "page"]
    query.append(("page", str(number)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _json(raw: bytes, where: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        return json.loads(raw, parse_constant=refuse)
    except json.JSONDecodeError as error:
        raise DirectoryUnreadable(
            f"{where}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise DirectoryUnreadable(f"{where}: not JSON ({error})") from None
