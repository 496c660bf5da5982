"""Options of the web chat."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, env_name, option


@dataclass(frozen=True)
class WebOptions(Options):
    title = "Web chat"

    feedback_db: Path = option(
        Path("feedback.sqlite3"), "SQLite file where the web chat stores feedback."
    )
    examples_file: str = option(
        "", "Text file with example questions (one per line) for the web chat."
    )
    auth_file: str = option(
        "", "File with `user:pbkdf2-hash` lines; enables login on the web chat."
    )
    concurrency: int = option(4, "Questions answered at the same time by the web chat.")

    def validate(self) -> None:
        if self.concurrency < 1:
            raise BronwijzerError(f"{env_name('concurrency')} must be at least 1")
