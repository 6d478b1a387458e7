"""JSONata evaluated as Step Functions evaluates it: npm jsonata 2.0.6 in one Node process.

``JSONataEvaluator`` starts ``step_functions.js`` (jsonata 2.0.6, the functions Step Functions
adds, no ``$eval``) once and talks to it in JSON lines. One request carries what one state
evaluates at one moment, every field with the same bindings (``fields``; ``choose`` for a
Choice state's rules), so a state costs one round trip however many expressions it holds.
``SHARED`` is the process every engine of this Python process uses; where Node and jsonata
come from is ``runtime``'s.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import queue
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from .runtime import MIN_NODE_MAJOR, Runtime, locate_runtime

SCRIPT: Final = Path(__file__).with_name("step_functions.js")
#: How long one request may take before the process is taken for hung, killed and restarted:
#: jsonata-js itself never stops an expression that loops forever.
REQUEST_TIMEOUT_SECONDS: Final = 30.0
#: How long Node may take to start and load jsonata (0.25 s on an idle machine).
START_TIMEOUT_SECONDS: Final = 60.0
QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"
#: A field as the evaluator takes it: where it sits in its state (``Output``,
#: ``Arguments``, ``Choices[0]/Assign``), and its template, a JSON value in which every string
#: ``"{% expression %}"`` is evaluated (Step Functions' rule) and every other value is kept.
Field = tuple[str, Any]
_NO_DOCUMENT: Final = object()
#: How many of the process's last stderr lines an error shows.
_ERROR_LINES: Final = 20


class JSONataEvaluationError(Exception):
    """A field's expression failed: Step Functions fails the state with States.QueryEvaluationError.

    Attributes
    ----------
    cause : str
        Step Functions' cause, naming the expression and the field.
    location : str
        The field (``Arguments/Key/id/S``); empty when no field is to blame (the process
        ended or timed out).
    """

    def __init__(self, cause: str, location: str = "") -> None:
        super().__init__(cause)
        self.cause, self.location = cause, location


class JSONataProcessError(RuntimeError):
    """The Node process could not start, or answered something that is not a reply."""


class _Process:
    """One running ``step_functions.js``: its replies arrive on a queue, read by a thread."""

    def __init__(self, runtime: Runtime) -> None:
        try:
            self.popen = subprocess.Popen(
                # A runaway expression should fail, not swap: jsonata-js has no memory limit.
                [runtime.node, "--max-old-space-size=512", str(SCRIPT), str(runtime.node_modules)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",
                bufsize=1,
                env={**os.environ, "TZ": "UTC"},
            )
        except OSError as error:
            raise JSONataProcessError(
                f"Could not start Node ({runtime.node}) for JSONata: {error}. Set "
                "IDEMPOTENT_WORKFLOWS_NODE to a working node executable."
            ) from None
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self.replies: queue.Queue[str] = queue.Queue()
        self.errors: collections.deque[str] = collections.deque(maxlen=_ERROR_LINES)
        self._errors_read = threading.Thread(
            target=self._read_errors, args=(self.popen.stderr,), daemon=True
        )
        self._errors_read.start()
        threading.Thread(target=self._read, args=(self.popen.stdout,), daemon=True).start()
        try:
            node = self.reply(START_TIMEOUT_SECONDS)["ready"]["node"]
        except (JSONataEvaluationError, KeyError, TypeError) as error:
            self.popen.kill()
            raise JSONataProcessError(
                f"Node ({runtime.node}) did not start the local engine's JSONata process: {error}"
            ) from None
        if int(node.lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
            self.popen.kill()
            raise JSONataProcessError(
                f"Node {node} ({runtime.node}) is too old for the local engine's JSONata, "
                f"expected {MIN_NODE_MAJOR} or later: install a newer Node or set "
                "IDEMPOTENT_WORKFLOWS_NODE to one."
            )

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.replies.put(line)
        self.replies.put("")  # the process ended

    def _read_errors(self, stderr: IO[str]) -> None:
        for line in stderr:
            self.errors.append(line.rstrip())

    def reply(self, timeout: float) -> Any:
        """The next reply; raise ``JSONataEvaluationError`` if none comes within ``timeout`` s."""
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            self.popen.kill()
            self.popen.wait()  # so that the next request starts another
            raise JSONataEvaluationError(
                f"Expression evaluation timeout: no result after {timeout:g} s (an infinite loop?)"
            ) from None
        if not line:
            code = self.popen.wait()
            self._errors_read.join(timeout=1)  # what it wrote on its way out
            said = " | ".join(self.errors)
            raise JSONataEvaluationError(
                f"The JSONata process ended (exit {code})" + (f": {said}" if said else "")
            )
        return json.loads(line)

    def close(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()  # the script ends at the end of its input
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()


class JSONataEvaluator:
    """One Node process evaluating JSONata as Step Functions does; shared by threads.

    The process starts at the first request (or ``start``) and again after it ended, timed out
    or was closed.

    Parameters
    ----------
    runtime
        Node and the node_modules holding jsonata; default: ``runtime.locate_runtime()``.
    """

    def __init__(self, runtime: Runtime | None = None) -> None:
        self._runtime = runtime
        self._process: _Process | None = None
        self._lock = threading.Lock()

    def _running(self) -> _Process:
        if self._process is None or self._process.popen.poll() is not None:
            self._process = _Process(self._runtime or locate_runtime())
        return self._process

    def start(self) -> None:
        """Start the process now, so that a missing Node or jsonata fails here, not in a state.

        Raises
        ------
        runtime.JSONataRuntimeMissing
            Node or npm jsonata 2.0.6 is missing and could not be installed.
        JSONataProcessError
            The process did not start as expected.
        """
        with self._lock:
            self._running()

    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request and return its reply (``values``, and ``chosen`` for choices).

        Raises
        ------
        JSONataEvaluationError
            A field failed (the first one), or the process ended or timed out.
        """
        # ensure_ascii: a lone surrogate travels as an escape; allow_nan=False: NaN is not JSON.
        line = json.dumps(payload, allow_nan=False) + "\n"
        with self._lock:
            process = self._running()
            assert process.popen.stdin is not None
            try:
                process.popen.stdin.write(line)
            except BrokenPipeError:
                pass  # the process ended: reply() says how
            reply: dict[str, Any] = process.reply(REQUEST_TIMEOUT_SECONDS)
        if "crash" in reply:
            raise JSONataProcessError(f"The JSONata process failed on a request: {reply['crash']}")
        failure = reply.get("failure")
        if failure:
            raise JSONataEvaluationError(failure["cause"], failure["location"])
        return reply

    def fields(
        self,
        bindings: Mapping[str, Any],
        fields: Sequence[Field],
        *,
        document: Any = _NO_DOCUMENT,
        nothing: Any = _NO_DOCUMENT,
    ) -> list[Any]:
        """Evaluate each field's template with the same bindings; their values, in order.

        Parameters
        ----------
        bindings
            The variables by name, without ``$``: ``states`` and the workflow's variables.
        fields
            (location, template) pairs.
        document
            The document ``$`` refers to; Step Functions binds none (the conformance suite
            does).
        nothing
            Returned for a field that is one expression evaluating to nothing (JSONata's
            undefined); by default such a field fails, as in Step Functions.

        Raises
        ------
        JSONataEvaluationError
            For the first field that failed.
        """
        payload: dict[str, Any] = {"bindings": bindings, "fields": fields}
        if document is not _NO_DOCUMENT:
            payload["input"] = document
        if nothing is not _NO_DOCUMENT:
            payload["allowNothing"] = True
        reply = self.request(payload)
        values: list[Any] = reply["values"]
        for index in reply.get("nothing", ()):
            values[index] = nothing
        return values

    def choose(
        self,
        bindings: Mapping[str, Any],
        rules: Sequence[tuple[Any, Sequence[Field]]],
        otherwise: Sequence[Field],
    ) -> tuple[int | None, list[Any]]:
        """A Choice state's rules: the first whose condition is true, and its fields' values.

        Each rule is (its ``Condition`` template, its fields); ``otherwise`` holds the fields
        evaluated when no condition is true. Returns the rule's index (``None`` for none) and
        the values of the fields evaluated.
        """
        reply = self.request(
            {"bindings": bindings, "choices": {"rules": rules, "otherwise": otherwise}}
        )
        chosen: int = reply["chosen"]
        return (None if chosen < 0 else chosen), reply["values"]

    def close(self) -> None:
        """End the process (a new one starts at the next request)."""
        with self._lock:
            if self._process is not None:
                self._process.close()
                self._process = None


#: The process every engine in this Python process shares.
SHARED: Final = JSONataEvaluator()
atexit.register(SHARED.close)
