"""Deploy cloud assemblies for real into MiniStack, a local AWS emulator, with the CDK CLI.

``MiniStack`` starts MiniStack (PyPI ``ministack``, the ``[ministack]`` extra) on 127.0.0.1 and
a free port, in an AWS environment of its own: fixed fake credentials distinct per endpoint,
region ``us-east-1``, ``AWS_ENDPOINT_URL`` pointing at it, no config or credentials file, no
profile. Whatever AWS settings the calling process has are never read, so nothing reaches AWS.
It bootstraps once, deploys cloud assemblies (``cdk.out``) with ``cdk deploy``, hands out boto3
clients, and stops the emulator's whole process group, also when the caller fails.

See docs/ministack.md for what MiniStack emulates and where it differs from Step Functions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from botocore.config import Config

from ..isolation import aws_environment, isolated_session

#: The account MiniStack gives to any access key that is not 12 digits.
ACCOUNT: Final = "000000000000"
#: The region of every MiniStack this module starts.
REGION: Final = "us-east-1"
#: The secret key that goes with every MiniStack's access key.
_SECRET_KEY: Final = "ministack-test-secret"
#: The CDK CLI checks for no new version and sends no telemetry.
_CDK_CLI_SETTINGS: Final = {
    "CDK_DISABLE_VERSION_CHECK": "true",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}
#: Wait states and retry intervals run at this fraction of their duration by default
#: (MiniStack's ``SFN_WAIT_SCALE``): a 10 s poll takes 0.1 s. Only Wait states shrink, not the
#: work, so the time a waiter waits for the lock holder (``max_polls`` polls) shrinks by the
#: same factor: 0.01 still gives an Express waiter 24 polls = 2.4 s, a Standard one 9 s.
DEFAULT_WAIT_SCALE: Final = 0.01
_STATE_MACHINE: Final = "AWS::StepFunctions::StateMachine"
#: MiniStack's DynamoDB item operations, serialized by ``atomic_items`` (see ``_LAUNCHER``).
ITEM_OPERATIONS: Final = (
    "_put_item",
    "_get_item",
    "_delete_item",
    "_update_item",
    "_batch_write_item",
    "_batch_get_item",
    "_transact_write_items",
    "_transact_get_items",
)
# Starts MiniStack; with ATOMIC set, one lock first wraps every DynamoDB item operation.
# MiniStack 1.5.33 runs each execution in a thread that calls these functions directly: a
# conditional write is a check then a write with no lock, so two executions can both take the
# idempotency lock (measured: 2 rounds of 8 with 10 concurrent executions). Through HTTP the
# same functions run one at a time on the server's event loop, as DynamoDB's are atomic.
_LAUNCHER: Final = """
import os, threading
if os.environ.get("IDEMPOTENT_WORKFLOWS_ATOMIC_ITEMS") == "1":
    from ministack.services import dynamodb
    lock = threading.RLock()
    def serialized(operation):
        def call(*args, **kwargs):
            with lock:
                return operation(*args, **kwargs)
        call.serialized = True
        return call
    for name in OPERATIONS:
        setattr(dynamodb, name, serialized(getattr(dynamodb, name)))
from ministack.app import main
main()
"""


class MiniStackError(RuntimeError):
    """MiniStack did not start, or a CDK CLI command against it failed (the output is attached)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) != 0


class MiniStack:
    """A MiniStack process with an AWS environment of its own; a context manager.

    Parameters
    ----------
    wait_scale
        MiniStack's ``SFN_WAIT_SCALE``: Wait states and retry intervals last this fraction of
        their duration. Default 0.01 (a 10 s poll takes 0.1 s); 1 is real time.
    port
        Port on 127.0.0.1. Default: a free one.
    cdk
        The CDK CLI command. Default: ``cdk`` found on ``PATH``.
    startup_timeout
        Seconds to wait for MiniStack to answer.
    log_file
        Where MiniStack's and the CDK CLI's output go. Default: a file in the temporary
        folder of this instance, removed on stop unless the ``with`` block raised.
    atomic_items
        Serialize MiniStack's DynamoDB item operations, as DynamoDB's are atomic. Default
        True: without it, concurrent executions of MiniStack's Step Functions can both pass
        one conditional write (docs/ministack.md).

    Examples
    --------
    >>> with MiniStack() as local:  # doctest: +SKIP
    ...     outputs = local.deploy("cdk.out")
    ...     sfn = local.client("stepfunctions")
    """

    def __init__(
        self,
        *,
        wait_scale: float = DEFAULT_WAIT_SCALE,
        port: int | None = None,
        cdk: str | Sequence[str] | None = None,
        startup_timeout: float = 60.0,
        log_file: Path | None = None,
        atomic_items: bool = True,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        #: Fake credentials distinct per endpoint: the CDK CLI caches the account per key.
        self.access_key = f"MINISTACK{self.port}"
        self.wait_scale = wait_scale
        self.atomic_items = atomic_items
        self.startup_timeout = startup_timeout
        credentials = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": _SECRET_KEY}
        self.environment = {
            **aws_environment(REGION, credentials, endpoint=self.endpoint),
            **_CDK_CLI_SETTINGS,
        }
        self._cdk = [cdk] if isinstance(cdk, str) else list(cdk) if cdk else None
        self._workdir = Path(tempfile.mkdtemp(prefix=f"ministack-{self.port}-"))
        self.log_file = log_file if log_file is not None else self._workdir / "ministack.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._bootstrapped = False
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe
        #: Seconds taken by start, bootstrap and each deploy (by assembly path).
        self.timings: dict[str, float] = {}

    @property
    def pid(self) -> int | None:
        """Process id of the running MiniStack (also its process group id), or None."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> MiniStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop(keep_files=exc_type is not None)

    def start(self) -> None:
        """Start MiniStack on 127.0.0.1 and wait until it answers its health check.

        Raises
        ------
        MiniStackError
            If it exits or does not answer within ``startup_timeout`` (it is stopped first).
        """
        if self._process is not None:
            return
        started = time.perf_counter()
        self._workdir.mkdir(parents=True, exist_ok=True)
        environment = dict(self.environment)
        environment.update(
            {
                "GATEWAY_PORT": str(self.port),
                "BIND_HOST": "127.0.0.1",
                "MINISTACK_REGION": REGION,
                "SFN_WAIT_SCALE": repr(self.wait_scale),
                "PERSIST_STATE": "0",
                "STATE_DIR": str(self._workdir / "state"),
                "LOG_LEVEL": "WARNING",
                # Its PID file and Lambda code land here, not in the shared /tmp.
                "TMPDIR": str(self._workdir),
                "IDEMPOTENT_WORKFLOWS_ATOMIC_ITEMS": "1" if self.atomic_items else "0",
            }
        )
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER.replace("OPERATIONS", repr(ITEM_OPERATIONS))],
                env=environment,
                cwd=self._workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends workers too
                preexec_fn=_exit_with_parent,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.perf_counter() - started

    def _wait_until_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/_ministack/health"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MiniStackError(
                    f"MiniStack exited with code {self._process.returncode}:\n{self._log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise MiniStackError(
            f"MiniStack did not answer on {url} within {self.startup_timeout} s:\n"
            f"{self._log_tail()}"
        )

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop MiniStack's process group (SIGTERM, then SIGKILL after 10 s) and clean up.

        Parameters
        ----------
        keep_files
            Keep this instance's temporary folder (the log, MiniStack's Lambda code) for a
            post-mortem; the context manager keeps it when the block raised.
        """
        process, self._process = self._process, None
        if process is not None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    continue
                # The leader is gone; end any worker it left in its group.
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
        self._bootstrapped = False
        if not keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` bound to this MiniStack, never to AWS (thread-safe).

        Without ``kwargs`` the same client is handed out again.

        The client gets explicit credentials, region and endpoint, and a botocore session
        that reads no config or credentials file and no profile, whatever the environment
        says. ``inject_host_prefix`` is off (``StartSyncExecution`` would otherwise call
        ``sync-127.0.0.1``). A ``config`` passed in is merged over these settings.
        """
        shared = not kwargs
        with self._lock:
            if shared and service in self._clients:
                return self._clients[service]
            return self._new_client(service, shared, kwargs)

    def _new_client(self, service: str, shared: bool, kwargs: dict[str, Any]) -> Any:
        if self._session is None:
            self._session = isolated_session(
                REGION, access_key=self.access_key, secret_key=_SECRET_KEY
            )
        config = Config(
            inject_host_prefix=False,
            retries={"mode": "standard", "max_attempts": 3},
            read_timeout=120,
            max_pool_connections=32,
        )
        if "config" in kwargs:  # the caller's settings win
            config = config.merge(kwargs.pop("config"))
        client = self._session.client(service, endpoint_url=self.endpoint, config=config, **kwargs)
        if shared:
            self._clients[service] = client
        return client

    def cdk(self, *arguments: str, timeout: float = 600) -> str:
        """Run the CDK CLI against this MiniStack; return its output.

        Raises
        ------
        MiniStackError
            If the command fails, with its output.
        """
        command = self._cdk or [shutil.which("cdk", path=self.environment.get("PATH")) or "cdk"]
        result = subprocess.run(
            [*command, *arguments, "--no-notices", "--ci"],
            cwd=self._workdir,  # no cdk.json here: nothing is synthesized by accident
            env=self.environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = result.stdout + result.stderr
        with open(self.log_file, "a") as log:
            log.write(f"\n$ cdk {' '.join(arguments)}\n{output}")
        if result.returncode != 0:
            raise MiniStackError(
                f"cdk {' '.join(arguments)} failed ({result.returncode}):\n{output[-4000:]}"
            )
        return output

    def bootstrap(self) -> None:
        """``cdk bootstrap aws://000000000000/us-east-1``, once per MiniStack."""
        if self._bootstrapped:
            return
        started = time.perf_counter()
        self.cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}")
        self._bootstrapped = True
        self.timings["bootstrap"] = time.perf_counter() - started

    def deploy(
        self, cloud_assembly: str | os.PathLike[str], stacks: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        """Deploy a synthesized cloud assembly (``cdk.out``) with ``cdk deploy``.

        Bootstraps first if needed. Returns each deployed stack's outputs.

        Parameters
        ----------
        cloud_assembly
            The folder ``cdk synth`` wrote (it holds ``manifest.json``).
        stacks
            Stack names to deploy. Default: all.
        """
        assembly = Path(cloud_assembly).resolve()
        if not (assembly / "manifest.json").is_file():
            raise MiniStackError(f"{assembly} is not a cloud assembly: run `cdk synth` first.")
        self.bootstrap()
        started = time.perf_counter()
        outputs_file = self._workdir / f"outputs-{len(self.timings)}.json"
        self.cdk(
            "deploy",
            "--app",
            str(assembly),
            *(stacks or ["--all"]),
            "--require-approval",
            "never",
            "--concurrency",
            "4",
            "--outputs-file",
            str(outputs_file),
        )
        self.timings[f"deploy {assembly}"] = time.perf_counter() - started
        outputs: dict[str, dict[str, str]] = json.loads(outputs_file.read_text())
        return outputs

    def state_machines(self, stack_name: str) -> dict[str, str]:
        """ARNs of the state machines a deployed stack created, by logical id."""
        resources = self.client("cloudformation").describe_stack_resources(StackName=stack_name)
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources["StackResources"]
            if r["ResourceType"] == _STATE_MACHINE
        }

    def functions(self, stack_name: str) -> dict[str, str]:
        """Names of the Lambda functions a deployed stack created, by logical id."""
        resources = self.client("cloudformation").describe_stack_resources(StackName=stack_name)
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources["StackResources"]
            if r["ResourceType"] == "AWS::Lambda::Function"
        }


def _exit_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the parent dies, however it dies.

    A test run killed outright (SIGKILL, a CI timeout) then leaves no MiniStack behind.
    """
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
