"""`bronwijzer course handout|list`: course packs for trainers (courses/*.toml)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.common import EXIT_OK, command
from presentation.settings import Settings


def register(sub: Any) -> None:
    course = sub.add_parser("course", help="Course packs for trainers (courses/*.toml).",
                            description="Course packs for trainers (courses/*.toml).")
    commands = course.add_subparsers(dest="course_command", metavar="COMMAND")
    p = command(commands, "handout", cmd_course_handout,
                "Answer every question of a course and write a handout (.docx, .html, .md).")
    p.add_argument("course", type=Path, metavar="COURSE.toml")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.docx|.html|.md")
    p.add_argument("--trainer", action="store_true",
                   help="include the trainer's notes and expected sources")
    p = command(commands, "list", cmd_course_list, "List the courses in a folder.", index=False)
    p.add_argument("folder", type=Path, nargs="?", default=Path("courses"))


def cmd_course_handout(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import build_assistant
    from presentation.course import answer_course, load_course
    from presentation.course_handout import write_course_handout

    course = load_course(args.course)  # a bad pack fails before the index is opened
    answered = answer_course(build_assistant(settings), course)
    path = write_course_handout(course, answered, args.out, trainer=args.trainer)
    refused = sum(a.answer.refused for a in answered)
    print(f"wrote {path}: {len(answered)} questions"
          + (f", {refused} without an answer from the sources" if refused else ""))
    return EXIT_OK


def cmd_course_list(args: argparse.Namespace, settings: Settings) -> int:
    from presentation.course import course_choices

    for title, course in course_choices(args.folder).items():
        print(f"{course.path}: {title} ({len(course.questions)} vragen, {course.audience})")
    return EXIT_OK
