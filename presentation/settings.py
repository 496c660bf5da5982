"""All settings of the product, assembled from the options each stage declares.

`Settings.from_env()` reads every BRONWIJZER_* variable into typed stage options. The
fields of `Settings` are the one list of stages; each option class lives beside the code
that reads it (`IndexOptions` in store/options.py, `RefusalOptions` in
assistant/refusal.py, `WebOptions` in presentation/web/options.py, ...). A stage receives
only its own options. Variable names carry no stage prefix, so a setting is named by its
field alone (`top_k`, `auth_file`), in overrides too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Self

from assistant.answer import AnswerOptions
from assistant.dated import DatedOptions
from assistant.llm import LLMOptions
from assistant.reader import ReaderOptions
from assistant.refusal import RefusalOptions
from assistant.rerank import RerankOptions
from assistant.retrieve import RetrievalOptions
from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import Options, env_name, options_table
from presentation.web.options import WebOptions
from store.options import IndexOptions

# what shapes an answer from a given index: recorded with feedback and eval results
ANSWER_SHAPING = ("retrieval", "rerank", "reader", "answer", "refusal", "dated", "llm")
SECRETS = frozenset({"llm_api_key", "llm_base_url"})  # never recorded


@dataclass(frozen=True)
class Settings:
    index: IndexOptions = field(default_factory=IndexOptions)
    retrieval: RetrievalOptions = field(default_factory=RetrievalOptions)
    rerank: RerankOptions = field(default_factory=RerankOptions)
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    answer: AnswerOptions = field(default_factory=AnswerOptions)
    refusal: RefusalOptions = field(default_factory=RefusalOptions)
    dated: DatedOptions = field(default_factory=DatedOptions)
    llm: LLMOptions = field(default_factory=LLMOptions)
    web: WebOptions = field(default_factory=WebOptions)

    @staticmethod
    def stages() -> dict[str, type[Options]]:
        return {f.name: f.default_factory for f in fields(Settings)}  # type: ignore[misc]

    @staticmethod
    def stage_of(name: str) -> str:
        """The stage that owns setting `name`; BronwijzerError when none does."""
        if name not in OWNER:
            raise BronwijzerError(f"unknown setting {name!r} (see `bronwijzer config`)")
        return OWNER[name]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Every stage from the environment; `overrides` by setting name (None = unset)."""
        grouped = _group({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**{stage: options.from_env(env, **grouped.get(stage, {}))
                          for stage, options in cls.stages().items()})
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Self:
        """A copy with some settings changed, by setting name: `with_(top_k=3)`."""
        updated = {stage: getattr(self, stage).with_(**values)
                   for stage, values in _group(changes).items()}
        settings = replace(self, **updated)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Rules that span stages (each stage checks its own values)."""
        if self.answer.answerer == "llm" and not self.llm.configured:
            raise BronwijzerError(
                f"{env_name('answerer')}=llm needs {env_name('llm_base_url')} and "
                f"{env_name('llm_model')}"
            )

    def answer_shaping(self) -> dict[str, Any]:
        """Every setting that shapes answers from a given index, without secrets: stored
        with each feedback row and eval result, so both can be reproduced."""
        values: dict[str, Any] = {}
        for stage in ANSWER_SHAPING:
            values |= getattr(self, stage).values()
        return {k: str(v) if not isinstance(v, int | float | str) else v
                for k, v in values.items() if k not in SECRETS}


def _group(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        grouped.setdefault(Settings.stage_of(name), {})[name] = value
    return grouped


def settings_table() -> str:
    """The README's and `bronwijzer config --markdown`'s table, grouped by stage."""
    return options_table(Settings.stages().values())


OWNER = {name: stage for stage, options in Settings.stages().items() for name in options.names()}
assert len(OWNER) == sum(len(o.names()) for o in Settings.stages().values()), (
    "a setting in two stages")
