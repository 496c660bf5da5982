"""Options of the web chat: storage, examples and courses, login, privacy and fair use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, env_name, option

# the project's courses/ folder (beside assistant/), wherever the command is started
COURSES = Path(__file__).resolve().parents[2] / "courses"

# Gradio's own requests stay far below this (the largest is a question of at most a few
# KB); a smaller limit would refuse the browser's own traffic.
MIN_BODY_KB = 16


@dataclass(frozen=True)
class WebOptions(Options):
    title = "Web chat"

    feedback_db: Path = option(
        Path("feedback.sqlite3"), "SQLite file where the web chat stores feedback."
    )
    feedback_retention_days: int = option(
        180, "Days feedback (with its question and answer) is kept; older rows are deleted "
        "at server start, daily while it runs, and by `bronwijzer feedback purge`."
    )
    feedback_keep_user: bool = option(
        False, "With login on: store the user name with feedback (otherwise only a random "
        "per-conversation id)."
    )
    log_questions: bool = option(
        False, "Write questions and answers to the server log (debugging only: questions "
        "can hold personal data)."
    )
    examples_file: str = option(
        "", "Text file with example questions (one per line) for the web chat."
    )
    courses_dir: Path = option(
        COURSES, "Folder of course packs (`*.toml`) offered in the web chat's course selector; "
        "without courses there the selector is hidden.", shown="courses/"
    )
    auth_file: str = option(
        "", "File with `user:pbkdf2-hash` lines; enables login on the web chat."
    )
    session_hours: float = option(12.0, "How long a login stays valid.")
    login_max_failures: int = option(
        5, "Failed logins for one user name before login pauses for that name."
    )
    login_max_failures_per_address: int = option(
        20, "Failed logins from one client address before login pauses for that address."
    )
    login_lockout_seconds: int = option(
        60, "First login pause after too many failures; doubles with every further "
        "failure, at most one hour."
    )
    # 30: no person reading answers gets near it, a script hammering one session does
    questions_per_minute: int = option(
        30, "Questions one chat session may ask per minute; more get a polite 'wait a "
        "moment' (0: no limit)."
    )
    max_body_kb: int = option(
        64, "Largest request body the web app accepts (KB); larger ones get 413."
    )
    concurrency: int = option(4, "Questions answered at the same time by the web chat.")

    def validate(self) -> None:
        if self.concurrency < 1:
            raise BronwijzerError(f"{env_name('concurrency')} must be at least 1")
        at_least = {"feedback_retention_days": 1, "login_max_failures": 1,
                    "login_max_failures_per_address": 1, "login_lockout_seconds": 1,
                    "questions_per_minute": 0, "max_body_kb": MIN_BODY_KB}
        for name, minimum in at_least.items():
            if getattr(self, name) < minimum:
                raise BronwijzerError(f"{env_name(name)} must be at least {minimum}")
        if self.session_hours <= 0:
            raise BronwijzerError(f"{env_name('session_hours')} must be more than 0")
