"""graphs/tpo.py and langgraph.json: importable without loading any model."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_a_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"]
    for target in config["graphs"].values():
        path, _, attr = target.partition(":")
        assert (ROOT / path).is_file()
        namespace = runpy.run_path(str(ROOT / path))
        graph = namespace[attr]
        assert {"sample", "score", "critique", "suggest", "rewrite"} <= set(graph.get_graph().nodes)


def test_importing_the_graph_loads_no_model() -> None:
    code = (
        "import runpy, sys;"
        f"runpy.run_path({str(ROOT / 'graphs' / 'tpo.py')!r});"
        "print(','.join(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
