"""`bronwijzer corpus download`: the catalogue's public documents, fetched and checked."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from bronwijzer.files import file_sha256
from store.sources import OFFLINE, SourceCatalogue


def download(catalogue: SourceCatalogue, target: Path, *,
             timeout: float = 15.0) -> list[tuple[str, str]]:
    """Fetch every source with a download_url into `target`; returns (file, status).

    After the first failure to reach the network the rest is not tried (status
    OFFLINE): offline, one failed lookup is enough to know, and waiting for a timeout
    per file would stall `make demo`.
    """
    target.mkdir(parents=True, exist_ok=True)
    results = []
    offline = False
    for source in catalogue.sources:
        if not source.file:
            continue
        path = target / source.file
        if path.exists() and (not source.sha256 or file_sha256(path) == source.sha256):
            results.append((source.file, "present"))
            continue
        if not source.download_url:
            results.append((source.file, "no download address; add the file by hand"))
            continue
        if offline:
            results.append((source.file, OFFLINE))
            continue
        try:
            with urllib.request.urlopen(source.download_url, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            results.append((source.file, f"{OFFLINE} ({reason})"))
            offline = True
            continue
        if source.sha256 and hashlib.sha256(data).hexdigest() != source.sha256:
            results.append((source.file, "not saved: checksum differs from the catalogue"))
            continue
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        results.append((source.file, "downloaded"))
    return results
