"""`bronwijzer corpus add-law`: keeping laws current.

`add_laws` brings regelrecht versions (a file, a folder of versions, or
an address: a file or a folder listing, the regelrecht corpus on GitHub among them) into
the corpus folder under a unique name and ingests them incrementally: an unchanged
version is skipped, a new one is added beside the old ones, which stay as they are.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from bronwijzer.files import file_sha256
from ingest.loaders.regelrecht import load_regelrecht
from store.sources import OFFLINE, SourceCatalogue

LAW_SUFFIXES = (".yaml", ".yml")
# `bronwijzer corpus add-law <name>`: the law's folder in the regelrecht corpus on GitHub
REGELRECHT = "https://api.github.com/repos/MinBZK/regelrecht-corpus/contents/regulation/nl/wet"
MAX_LAW_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class LawFile:
    """A regelrecht version placed in the corpus folder."""

    path: Path
    name: str  # its document name: <law>_<BWB id>_<valid_from>.yaml
    bwb_id: str
    valid_from: str
    title: str
    status: str  # "copied" (new in the folder), "present" (same bytes already there)
    origin: str  # the path or address it came from
    sha256: str


def collect(target: str, *, timeout: float = 15.0) -> list[tuple[str, bytes]]:
    """(origin, bytes) of every version that `target` names: a YAML file, a folder (all
    *.yaml and *.yml under it), an http(s) address of a file or of a folder listing (a
    web server's index page or GitHub's contents API), or a bare law name in the
    regelrecht corpus (`gemeentewet`)."""
    if re.match(r"https?://", target):
        return _fetch(target, timeout)
    path = Path(target).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in LAW_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise BronwijzerError(f"{path}: no regelrecht versions (*.yaml) in this folder")
        return [(str(p), p.read_bytes()) for p in files]
    if path.is_file():
        return [(str(path), path.read_bytes())]
    if re.fullmatch(r"[a-z0-9_]+", target):  # a law's name in the regelrecht corpus
        return _fetch(f"{REGELRECHT}/{target}", timeout)
    raise BronwijzerError(f"{target}: no such file or folder (nor an http(s) address)")


def place(found: list[tuple[str, bytes]], folder: Path) -> list[LawFile]:
    """Check every version (a bad one stops everything, naming its origin and field, so
    nothing is half added) and write the new ones into `folder` under their names."""
    parsed = []
    for origin, data in found:
        law = load_regelrecht(data, origin)  # IngestError: file and field
        assert law.name and law.bwb_id and law.valid_from
        parsed.append((origin, data, law))
    names = [law.name for _, _, law in parsed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BronwijzerError(f"the same version occurs twice: {', '.join(twice)}")
    folder.mkdir(parents=True, exist_ok=True)
    placed = []
    for origin, data, law in parsed:
        # a version already in the folder keeps its name (corpus/wet_bibob_BWBR0013798_…)
        known = sorted(folder.glob(f"*_{law.bwb_id}_{law.valid_from}.y*ml"))
        path = known[0] if known else folder / str(law.name)
        digest = hashlib.sha256(data).hexdigest()
        status = "present" if path.exists() and file_sha256(path) == digest else "copied"
        if status == "copied":
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        placed.append(LawFile(path.resolve(), path.name, str(law.bwb_id),
                              str(law.valid_from), law.title or str(law.name), status,
                              origin, digest))
    return placed


def catalogue_entries(placed: list[LawFile], catalogue: SourceCatalogue) -> str:
    """TOML `[[source]]` entries for versions the catalogue does not list yet: title and
    publisher as for the law's other versions, with provenance (origin and sha256)."""
    blocks = []
    for law in placed:
        if catalogue.source(law.name):
            continue
        sibling = next((s for s in catalogue.sources if s.law == law.bwb_id), None)
        title = sibling.title if sibling else law.title
        origin = "download_url" if law.origin.startswith(("http://", "https://")) else "origin"
        publisher = (sibling.publisher if sibling else None) or "Rijksoverheid"
        kind = (sibling.document_type if sibling else None) or "wet"
        blocks.append("\n".join([
            "", "[[source]]", f"file = {_toml(law.name)}", f"title = {_toml(title)}",
            f"publisher = {_toml(publisher)}", f"document_type = {_toml(kind)}",
            f"bwb_id = {_toml(law.bwb_id)}", f"valid_from = {_toml(law.valid_from)}",
            f"{origin} = {_toml(law.origin)}", f"sha256 = {_toml(law.sha256)}",
            'licence = "Wettekst, Auteurswet art. 11 (regelrecht, schema v0.7.1)"',
        ]))
    return "\n".join(blocks) + ("\n" if blocks else "")


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


# --- fetching ------------------------------------------------------------------------------
class OfflineError(BronwijzerError):
    """The address cannot be reached: no network (one line, like `corpus download`)."""


def _get(url: str, timeout: float) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": "bronwijzer",
                                                   "Accept": "application/json, */*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_LAW_BYTES + 1)
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise BronwijzerError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(f"{url}: {OFFLINE} ({reason}); nothing was changed") from None
    if len(data) > MAX_LAW_BYTES:
        raise BronwijzerError(f"{url}: larger than {MAX_LAW_BYTES // (1024 * 1024)} MB")
    return data, kind


def _fetch(url: str, timeout: float) -> list[tuple[str, bytes]]:
    data, kind = _get(url, timeout)
    path = urllib.parse.urlparse(url).path.lower()
    if path.endswith(LAW_SUFFIXES):
        return [(url, data)]
    links = _listing(url, data, kind)
    if not links:
        raise BronwijzerError(f"{url}: neither a regelrecht version (*.yaml) nor a folder "
                              "listing with one")
    return [(link, _get(link, timeout)[0]) for link in links]


def _listing(url: str, data: bytes, kind: str) -> list[str]:
    """The *.yaml addresses a folder listing names: GitHub's contents API (JSON with
    download_url) or a web server's index page (links)."""
    if kind == "application/json" or data.lstrip()[:1] == b"[":
        try:
            entries = json.loads(data)
        except ValueError:
            return []
        return sorted(e["download_url"] for e in entries if isinstance(e, dict)
                      and str(e.get("name", "")).lower().endswith(LAW_SUFFIXES)
                      and e.get("download_url"))
    parser = _Links()
    parser.feed(data.decode("utf-8", "replace"))
    base = url if url.endswith("/") else url + "/"
    return sorted({urllib.parse.urljoin(base, href) for href in parser.links
                   if urllib.parse.urlparse(href).path.lower().endswith(LAW_SUFFIXES)})


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]
