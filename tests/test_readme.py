"""The README's Python example runs as written."""

from __future__ import annotations

import contextlib
import io
import os
import re

from tests.conftest import PROJECT


def test_the_readme_python_example_runs(sample_index, tmp_path, monkeypatch) -> None:
    readme = (PROJECT / "README.md").read_text("utf-8")
    examples = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(examples) == 1
    # the example opens `index` in the working folder: there, the bundled sample's index
    os.symlink(sample_index.index.index_dir, tmp_path / "index")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(printed):
        exec(compile(examples[0], "README.md", "exec"), scope)
    answer = scope["answer"]
    assert answer.citations and not answer.refused
    assert f"[1] {answer.citations[0].title} (" in printed.getvalue()
    assert scope["earlier"].valid_on == "2016-01-01"
