"""README's `tpo serve` examples, run against a live server on scripted models.

The section's `py` block (the openai client) and its `curl` command run as a reader would
paste them, with the server's real address in place of http://127.0.0.1:8100.
(`tests/unit_tests/test_readme.py` runs the ```python blocks, which need no server.)
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server_tests.conftest import serving

README = Path(__file__).resolve().parents[2] / "README.md"
ADDRESS = "http://127.0.0.1:8100"


def section() -> str:
    text = README.read_text()
    start = text.index("## A third command")
    return text[start : text.index("\n## ", start + 1)]


def block(language: str, containing: str) -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```", section(), re.M | re.S)
    return next(b for b in blocks if containing in b)


def test_the_openai_client_example_runs() -> None:
    code = block("py", "from openai import OpenAI")
    assert ADDRESS in code
    with serving() as server:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code.replace(ADDRESS, server.url), str(README), "exec"), {})
    answer, usage = out.getvalue().splitlines()[0], out.getvalue().splitlines()[-1]
    assert answer.startswith("About [How do I keep basil alive?]")
    total, best_scores = usage.split(" ", 1)
    assert int(total) > 0 and len(json.loads(best_scores)) == 2


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example_runs() -> None:
    command = block("bash", "curl -s")
    assert ADDRESS in command
    with serving() as server:
        done = subprocess.run(
            ["bash", "-c", command.replace(ADDRESS, server.url)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    reply = json.loads(done.stdout)
    assert reply["object"] == "chat.completion"
    assert reply["tpo"]["iterations"] == 1
    assert reply["choices"][0]["message"]["content"].startswith("About [How do I keep basil")
