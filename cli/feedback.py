"""`bronwijzer feedback list|export|purge`: the feedback the web chat stored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import env_name
from presentation.feedback import RATINGS, FeedbackStore, eval_candidates
from presentation.settings import Settings


def register(subparsers: Any) -> None:
    """Register `bronwijzer feedback list|export|purge` on the main CLI's subparsers."""
    feedback = subparsers.add_parser("feedback", help="Feedback given in the web chat.",
                                     description="Feedback given in the web chat.")
    commands = feedback.add_subparsers(dest="feedback_command", metavar="COMMAND")

    listing = commands.add_parser("list", help="Show stored feedback.")
    _add_db_option(listing)
    listing.set_defaults(handler=cmd_feedback_list)

    export = commands.add_parser(
        "export", help="Write evaluation-set candidates (JSONL) for a person to review.")
    _add_db_option(export)
    export.add_argument("--format", choices=["eval"], default="eval")
    export.add_argument("--out", type=Path, help="output file (default: standard output)")
    export.set_defaults(handler=cmd_feedback_export)

    purge = commands.add_parser(
        "purge", help="Delete feedback older than the retention period (questions can hold "
        "personal data).")
    _add_db_option(purge)
    purge.add_argument("--older-than", type=float, metavar="DAYS",
                       help="delete rows older than DAYS days "
                            f"(default: {env_name('feedback_retention_days')})")
    purge.set_defaults(handler=cmd_feedback_purge)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path,
                        help=f"feedback database (default: {env_name('feedback_db')})")


def _open(args: argparse.Namespace, settings: Settings) -> FeedbackStore:
    path = args.db or settings.web.feedback_db
    if not Path(path).exists():
        raise BronwijzerError(f"{path}: no feedback database yet (it is created by the web chat)")
    return FeedbackStore(path)


def cmd_feedback_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = _open(args, settings).rows()
    if not rows:
        print("Nog geen feedback.")
    for row in rows:
        comment = f" — {row.comment}" if row.comment else ""
        print(f"{row.id:>4}  {row.created_at}  {RATINGS[row.rating]:<16} {row.question[:80]}"
              f"{comment}")
    return 0


def cmd_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    candidates = list(eval_candidates(_open(args, settings).rows()))
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(lines, encoding="utf-8")
        print(f"{len(candidates)} kandidaten geschreven naar {args.out}; laat ze nakijken "
              "voordat ze in een evaluatieset komen.", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0


def cmd_feedback_purge(args: argparse.Namespace, settings: Settings) -> int:
    days = settings.web.feedback_retention_days if args.older_than is None else args.older_than
    if days < 0:
        raise BronwijzerError(f"--older-than {days:g}: the number of days cannot be negative")
    path = args.db or settings.web.feedback_db
    if not Path(path).exists():  # nothing stored yet is not an error: purge runs from cron
        print(f"{path}: nog geen feedback; niets te verwijderen.")
        return 0
    store = FeedbackStore(path)
    try:
        removed = store.purge(days)
        kept = len(store.rows())
    finally:
        store.close()
    print(f"{removed} feedbackregels ouder dan {days:g} dagen verwijderd; {kept} bewaard "
          f"({path}).")
    return 0
