"""How settings are read: typed option groups, each filled from BRONWIJZER_* variables.

Every stage declares its own options next to its code, as a frozen dataclass of
`option(default, doc)` fields (`IndexOptions` in store/options.py, `RetrievalOptions`
in assistant/retrieve.py, ...); `presentation/settings.py` assembles them into one
`Settings`. This module knows no stage: it names the variables, parses their values
(one rule for every group) and renders the documentation table that `bronwijzer config`
prints and the README embeds, so code and documentation cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Self

from bronwijzer.domain import BronwijzerError

PREFIX = "BRONWIJZER_"
TRUE_WORDS = frozenset({"1", "true", "yes", "ja", "on"})


def option(default: Any, doc: str, *, shown: str | None = None) -> Any:
    """A setting: its default and its documentation (`shown` replaces a machine-specific
    default in the table, e.g. an absolute path)."""
    return field(default=default, metadata={"doc": doc, "shown": shown})


def env_name(name: str) -> str:
    return PREFIX + name.upper()


def parse_value(name: str, raw: str, default: Any) -> Any:
    """`raw` (from the environment or a command line) as the type of `default`."""
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in TRUE_WORDS
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
        return raw
    except ValueError:
        kind = type(default).__name__
        raise BronwijzerError(f"{name}={raw!r} is not a valid {kind}") from None


@dataclass(frozen=True)
class Options:
    """Base of every stage's option group: read from the environment, then validated."""

    title = ""  # heading of the group in the settings table

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = env_name(f.name)
            if env.get(name, "") != "":
                values[f.name] = parse_value(name, env[name], f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise BronwijzerError(f"{cls.__name__} has no setting {', '.join(unknown)}")
        options = cls(**values)
        options.validate()
        return options

    def with_(self, **changes: Any) -> Self:
        options = replace(self, **changes)
        options.validate()
        return options

    def validate(self) -> None:
        """Raise BronwijzerError naming the variable when a value cannot work."""

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def options_table(groups: Iterable[type[Options]]) -> str:
    """Markdown: one table per option group, for the README and `bronwijzer config`."""
    parts = []
    for group in groups:
        rows = [f"**{group.title}**", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        for f in fields(group):
            default = f.metadata["shown"] or f.default
            shown = f"`{default}`" if default not in ("", None) else "(empty)"
            rows.append(f"| `{env_name(f.name)}` | {shown} | {f.metadata['doc']} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def user_cache_dir() -> Path:
    """Where converted models and other rebuildable files go: never inside the repository."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bronwijzer"
