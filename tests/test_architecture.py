"""The shape of the tree: layering, module size, settings assembly, the README's map."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from bronwijzer.domain import BronwijzerError
from bronwijzer.settings import env_name
from presentation.settings import ANSWER_SHAPING, SECRETS, Settings, settings_table

PROJECT = Path(__file__).resolve().parent.parent
# the floors, bottom up: each room may import the rooms listed for it and itself, no other.
# The write side (ingest) and the question side (assistant) share the read side (store)
# and never import each other.
FLOORS = {
    "bronwijzer": set(),
    "store": {"bronwijzer"},
    "ingest": {"bronwijzer", "store"},
    "assistant": {"bronwijzer", "store"},
    "presentation": {"bronwijzer", "store", "assistant"},
    "evals": {"bronwijzer", "store", "ingest", "assistant", "presentation"},
    "bench": {"bronwijzer", "store", "ingest", "assistant", "presentation"},
    "cli": {"bronwijzer", "store", "ingest", "assistant", "presentation", "evals"},
}
LAYERS = list(FLOORS)
PRODUCT = LAYERS
MAX_LINES = 400


def modules(room: str) -> list[Path]:
    return sorted((PROJECT / room).rglob("*.py"))


def imported_rooms(path: Path) -> set[str]:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        rooms |= {name.split(".")[0] for name in names} & set(LAYERS)
    return rooms


@pytest.mark.parametrize("room", LAYERS)
def test_rooms_import_only_the_rooms_below_them(room: str) -> None:
    allowed = FLOORS[room] | {room}
    upward = {f"{path.relative_to(PROJECT)} imports {', '.join(sorted(bad))}"
              for path in modules(room) if (bad := imported_rooms(path) - allowed)}
    assert not upward


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the product modules it imports, anywhere in the file (inside functions
    and under TYPE_CHECKING too: an import there still closes a circle)."""
    paths = {module_name(p): p for room in PRODUCT for p in modules(room)}
    graph = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def test_no_module_imports_itself_back_through_others() -> None:
    graph = import_graph()
    finished: set[str] = set()
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in path:
                circles.append([*path[path.index(target):], target])
            elif target not in finished:
                visit(target, [*path, target])
        finished.add(name)

    for name in sorted(graph):
        if name not in finished:
            visit(name, [name])
    assert not circles, [" → ".join(circle) for circle in circles]


def test_no_product_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(PROJECT)): n for room in PRODUCT for p in modules(room)
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long


def test_settings_are_routed_to_the_stage_that_owns_them() -> None:
    settings = Settings.from_env({"BRONWIJZER_TOP_K": "4", "BRONWIJZER_AUTH_FILE": "users.txt",
                                  "BRONWIJZER_CHUNK_TOKENS": "200"}, answer_sentences=2)
    assert settings.retrieval.top_k == 4 and settings.web.auth_file == "users.txt"
    assert settings.index.chunk_tokens == 200 and settings.answer.answer_sentences == 2
    changed = settings.with_(rrf_k=10, caution_threshold=0.9)
    assert changed.retrieval.rrf_k == 10 and changed.refusal.caution_threshold == 0.9
    assert changed.retrieval.top_k == 4  # the rest is kept
    with pytest.raises(BronwijzerError, match="unknown setting 'topk'"):
        settings.with_(topk=3)
    with pytest.raises(BronwijzerError, match="BRONWIJZER_TOP_K='vier' is not a valid int"):
        Settings.from_env({"BRONWIJZER_TOP_K": "vier"})
    with pytest.raises(BronwijzerError, match="BRONWIJZER_FUSION"):
        settings.with_(fusion="magic")
    with pytest.raises(BronwijzerError, match="BRONWIJZER_ANSWER_RANK_WEIGHT must be 0 or more"):
        settings.with_(answer_rank_weight=-1.0)
    with pytest.raises(BronwijzerError, match="ANSWERER=llm needs"):
        settings.with_(answerer="llm")  # a rule across stages: no endpoint configured


def test_answer_shaping_settings_are_complete_and_hold_no_secrets() -> None:
    settings = Settings.from_env({}, llm_api_key="geheim", llm_base_url="http://intern:8000/v1")
    recorded = settings.answer_shaping()
    expected = {name for stage in ANSWER_SHAPING for name in Settings.stages()[stage].names()}
    assert set(recorded) == expected - SECRETS
    assert {"answer_sentences", "answer_embed_sentences", "max_per_document",
            "caution_threshold", "refusal_threshold", "fusion"} <= set(recorded)
    assert "geheim" not in str(recorded) and "intern" not in str(recorded)


def test_the_settings_table_names_every_variable_once() -> None:
    table = settings_table()
    for stage, options in Settings.stages().items():
        assert options.title in table, stage
        for name in options.names():
            assert table.count(f"`{env_name(name)}`") == 1


def test_a_missing_package_gives_one_clear_line(monkeypatch, capsys, tmp_path) -> None:
    from cli.main import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "presentation.web.app", raising=False)
    assert main(["serve", "--index", str(tmp_path / "nowhere")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "'gradio'" in error and "make install" in error


def test_the_readme_map_names_every_module_of_every_room() -> None:
    readme = (PROJECT / "README.md").read_text("utf-8")
    section = readme[readme.index("## How it works"):readme.index("### Choices")]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)/` \| (.*) \|$", section,
                                                        re.M)}
    assert set(PRODUCT) <= set(rows)
    for room in PRODUCT:
        mentioned = set(re.findall(r"`([\w/]+(?:\.py|/))`", rows[room]))
        present = {p.name for p in (PROJECT / room).glob("*.py")
                   if p.name not in {"__init__.py", "__main__.py"}}
        present |= {f"{d.name}/" for d in (PROJECT / room).iterdir()
                    if d.is_dir() and (d / "__init__.py").exists()}
        assert present <= mentioned, (room, present - mentioned)
        anywhere = {p.name for p in (PROJECT / room).rglob("*.py")}  # subpackages too
        missing = {m for m in mentioned if m.endswith(".py") and m not in anywhere}
        assert not missing, (room, missing)
