"""`tpo run --backend vllm`: both default models on in-process vLLM engines, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration_tests.default_models import require_default_models

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]

pytest.importorskip("vllm")
require_default_models()


def test_run_json_on_vllm_keeps_stdout_clean_and_shuts_engines_down() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    args = ["run", "Name a fruit.", "--backend", "vllm", "-n", "2", "-d", "1", "--max-tokens", "12"]
    done = subprocess.run(
        [sys.executable, "-m", "langchain_tpo.cli", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # vLLM's own logging must not reach stdout
    assert len(result["candidates"]) == 4
    assert "Loaded the reward model" in done.stderr
    # Engines closed before exit: vLLM would otherwise report their shutdown as a crash.
    assert "EngineDeadError" not in done.stderr
    assert "Traceback" not in done.stderr
