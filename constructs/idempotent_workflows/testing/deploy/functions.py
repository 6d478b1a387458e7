"""Run the real Lambda handlers from their asset folders, in this process.

moto without Docker answers every invocation with a canned reply; the local engine replaces
that with the function's own handler, called with its own environment variables.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest import mock

#: os.environ is shared by the whole process: one handler runs at a time, with its variables.
ENVIRONMENT_LOCK = threading.Lock()


@dataclass
class LocalFunction:
    """A Lambda function deployed into the local engine.

    Attributes
    ----------
    logical_id
        The function's logical id in its stack.
    name
        Its physical name in the local engine.
    code_dir
        The asset folder with its handler code.
    handler
        ``module.function``, as in the function's ``Handler`` property.
    environment
        Its environment variables.
    invocations
        How many times it was invoked.
    peak_concurrency
        The most invocations in flight at once (from the start of an invocation, its
        ``latency`` included, to its answer), for example to check a Map state's
        ``MaxConcurrency``.
    latency
        Seconds each invocation takes before the handler runs (to simulate slow work).

    Both counts start from zero again after :meth:`reset_counters`.
    """

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    invocations: int = 0
    peak_concurrency: int = 0
    latency: float = 0.0
    _in_flight: int = field(default=0, repr=False)
    _entry: Any = field(default=None, repr=False)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset_counters(self) -> None:
        """Count ``invocations`` and ``peak_concurrency`` from zero again.

        Invocations still in flight count towards the new peak.
        """
        with self._count_lock:
            self.invocations = 0
            self.peak_concurrency = self._in_flight

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        """Count an invocation, and the invocations in flight while the block runs."""
        with self._count_lock:
            self.invocations += 1
            self._in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
        try:
            yield
        finally:
            with self._count_lock:
                self._in_flight -= 1

    def invoke(self, payload: bytes) -> tuple[bytes, bool]:
        """Run the handler on a JSON payload.

        Returns
        -------
        tuple of (bytes, bool)
            The JSON response and whether it is a function error (``errorType``,
            ``errorMessage``, as Lambda reports an unhandled exception).
        """
        with self._counted():
            if self.latency:
                time.sleep(self.latency)
            return self._run(payload)

    def _run(self, payload: bytes) -> tuple[bytes, bool]:
        event = json.loads(payload) if payload else {}
        context = SimpleNamespace(
            function_name=self.name,
            aws_request_id=str(uuid.uuid4()),
            memory_limit_in_mb=256,
            get_remaining_time_in_millis=lambda: 10_000,
        )
        with ENVIRONMENT_LOCK, mock.patch.dict(os.environ, self.environment):
            try:
                result = self._load()(event, context)
            except Exception as error:  # the handler's error becomes the task's error
                body = {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
                return json.dumps(body).encode(), True
        return json.dumps(result).encode(), False

    def _load(self) -> Any:
        if self._entry is None:
            module_name, function_name = self.handler.rsplit(".", 1)
            self._entry = getattr(import_isolated(self.code_dir, module_name), function_name)
        return self._entry


def import_isolated(folder: Path, module_name: str) -> ModuleType:
    """Import ``folder/module_name.py`` as Lambda would, without leaving its modules behind.

    Handlers of different functions often share module names (``handler``); each function's
    modules are imported under its folder and then removed from ``sys.modules``.
    """
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(
            f"_local_lambda_{uuid.uuid4().hex}", folder / f"{module_name}.py"
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"No handler module {module_name}.py in {folder}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(str(folder)):
                del sys.modules[name]
