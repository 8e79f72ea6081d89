"""Loading a Functions app and invoking its functions the way the Python worker does.

The worker imports ``function_app.py``, reads ``app.get_functions()`` once (a
second call raises: names are registered on the first), and then binds each
invocation's data to the function's parameters by binding name, through the
converters ``azure.functions`` registers for each binding type. This module
does the same, so an app written from Microsoft's docs runs unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from ._codec import decode_input, encode_output
from ._executor import Orchestrator

__all__ = ["AppLoadError", "FunctionIndex", "HttpRoute", "load_app", "user_traceback"]


class AppLoadError(Exception):
    """The app could not be imported or indexed."""


class _Context(func.Context):
    """The ``context`` parameter the worker passes to functions that ask for it."""

    def __init__(self, function_name: str, directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._directory = directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


@dataclass(frozen=True, slots=True)
class HttpRoute:
    function: Any
    name: str
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    request_param: str
    client_params: tuple[str, ...]
    auth_level: str = "function"  # what the trigger declares (the app's default if it does not)

    def match(self, path: str, method: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None or (self.methods is not None and method not in self.methods):
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


_SEGMENT = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]*))?(\??)\}")
# ASP.NET route constraints the Functions host honours; others match any segment.
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}",
}


def compile_route(template: str) -> re.Pattern[str]:
    """Compile a Functions route template (``{id}``, ``{id?}``, ``{id:int}``, ``{*rest}``)."""
    template = template.strip("/")
    pattern, position = "", 0
    for found in _SEGMENT.finditer(template):
        literal = template[position : found.start()]
        catch_all, name, constraint, optional = found.groups()
        segment = _CONSTRAINTS.get((constraint or "").split("(")[0].lower(), "[^/]+")
        body = f"(?P<{name}>.*)" if catch_all else f"(?P<{name}>{segment})"
        if (optional or catch_all) and literal.endswith("/"):
            pattern += re.escape(literal[:-1]) + f"(?:/{body})?"
        else:
            pattern += re.escape(literal) + (f"{body}?" if optional else body)
        position = found.end()
    pattern += re.escape(template[position:])
    return re.compile(pattern, re.IGNORECASE)


class FunctionIndex:
    """Every function of one app, by kind, and how to call each."""

    def __init__(self, app: func.FunctionRegister, directory: Path) -> None:
        self.directory = directory
        self.http: list[HttpRoute] = []
        self.orchestrators: dict[str, Orchestrator] = {}
        self.activities: dict[str, Any] = {}
        self.unsupported: dict[str, str] = {}
        self.event_grid: dict[str, Any] = {}
        # The durable client binding JSON non-HTTP functions get (the server supplies it).
        self.client_binding: Callable[[], str] = lambda: ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._own_loop: dict[str, bool] = {}
        for function in app.get_functions():  # may be called once only
            self._index(function)
        # Literal routes first, so "items/new" wins over "items/{id}".
        self.http.sort(key=lambda r: (r.template.count("{"), -len(r.template)))

    def _index(self, function: Any) -> None:
        name = function.get_function_name()
        trigger = function.get_trigger()
        kind = getattr(trigger, "type", None)
        if kind == "httpTrigger":
            methods = getattr(trigger, "methods", None)
            clients = tuple(b.name for b in function.get_bindings() if b.type == "durableClient")
            template = (getattr(trigger, "route", None) or name).strip("/")
            self.http.append(
                HttpRoute(
                    function=function,
                    name=name,
                    template=template,
                    pattern=compile_route(template),
                    methods=frozenset(str(getattr(m, "value", m)).upper() for m in methods)
                    if methods
                    else None,
                    request_param=trigger.name,
                    client_params=clients,
                    auth_level=str(
                        getattr(trigger.auth_level, "value", trigger.auth_level) or "function"
                    ).lower(),
                )
            )
        elif kind == "orchestrationTrigger":
            handle = function.get_user_function()
            self.orchestrators[_durable_name(trigger, "orchestration", name)] = Orchestrator(
                handle=handle,
                generator=getattr(handle, "orchestrator_function", None),
                input_type=getattr(handle, "_df_input_type", None),
            )
        elif kind == "activityTrigger":
            self.activities[_durable_name(trigger, "activity", name)] = function
        elif kind == "eventGridTrigger":
            self.event_grid[name] = function
        else:
            self.unsupported[name] = str(kind)

    def orchestrator(self, name: str) -> Orchestrator:
        try:
            return self.orchestrators[name]
        except KeyError:
            raise LookupError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            ) from None

    def route(self, path: str, method: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self.http:
            params = route.match(path, method)
            if params is not None:
                return route, params
        return None

    def allowed_methods(self, path: str) -> set[str]:
        return {m for r in self.http if r.pattern.fullmatch(path) for m in (r.methods or {"*"})}

    # -- invocation -------------------------------------------------------------------
    def call_activity(self, name: str, input_json: str | None) -> str:
        """Run an activity on the calling thread; return its JSON-encoded result."""
        function = self.activities.get(name)
        if function is None:
            raise LookupError(
                f"The function '{name}' doesn't exist, is disabled, or is not an activity function."
            )
        value = decode_input(input_json)  # exactly ActivityTriggerConverter's, faster (ADR 0035)
        result = self._invoke(function, {function.get_trigger().name: value, **self._client_args(function)})
        return encode_output(result)

    def on_own_loop(self, name: str) -> bool:
        """Whether the activity is a coroutine function that may run on any event loop: one
        without a durable client, whose SDK session belongs to the host's loop (ADR 0065)."""
        known = self._own_loop.get(name)
        if known is None:
            function = self.activities.get(name)
            known = self._own_loop[name] = (
                function is not None
                and inspect.iscoroutinefunction(function.get_user_function())
                and not self._client_args(function)
            )
        return known

    async def await_activity(self, name: str, input_json: str | None) -> str:
        """Run an ``on_own_loop`` activity on the running loop; return its JSON-encoded result."""
        function = self.activities[name]
        user = function.get_user_function()
        value = decode_input(input_json)
        result = await user(**self._with_context(function, user, {function.get_trigger().name: value}))
        return encode_output(result)

    async def call_http(self, route: HttpRoute, request: func.HttpRequest, client_json: str) -> Any:
        args: dict[str, Any] = {route.request_param: request}
        for param in route.client_params:
            args[param] = client_json
        user = route.function.get_user_function()
        kwargs = self._with_context(route.function, user, args)
        if inspect.iscoroutinefunction(user):
            return await user(**kwargs)
        return await asyncio.to_thread(user, **kwargs)

    def call_event_grid(self, name: str, event_json: str) -> None:
        """Run an Event Grid function for one event (Event Grid or CloudEvents schema)."""
        function = self.event_grid[name]
        value = EventGridEventInConverter.decode(
            meta.Datum(type="json", value=event_json), trigger_metadata=None
        )
        self._invoke(function, {function.get_trigger().name: value, **self._client_args(function)})

    def _client_args(self, function: Any) -> dict[str, str]:
        names = [b.name for b in function.get_bindings() if b.type == "durableClient"]
        return {name: self.client_binding() for name in names}

    def _invoke(self, function: Any, args: Mapping[str, Any]) -> Any:
        user = function.get_user_function()
        kwargs = self._with_context(function, user, args)
        if not inspect.iscoroutinefunction(user):
            return user(**kwargs)
        if self.loop is None:
            return asyncio.run(user(**kwargs))
        return asyncio.run_coroutine_threadsafe(user(**kwargs), self.loop).result()

    def _with_context(
        self, function: Any, user: Callable[..., Any], args: Mapping[str, Any]
    ) -> dict[str, Any]:
        kwargs = dict(args)
        if _takes_context(user) and "context" not in kwargs:
            kwargs["context"] = _Context(function.get_function_name(), str(self.directory))
        return kwargs


def load_app(path: Path) -> FunctionIndex:
    """Import ``function_app.py`` as the worker does and index its functions."""
    path = path.resolve()
    if not path.is_file():
        raise AppLoadError(f"No Functions app at {path}")
    directory = str(path.parent)
    if directory in sys.path:  # first, as the worker's script root: the app's own modules win
        sys.path.remove(directory)
    sys.path.insert(0, directory)
    module_name = path.stem
    # This very file, under the name the worker imports it by: ``importlib.reload`` of a module
    # of that name loaded from another folder found that folder's file again (several apps are
    # loaded in one process by the tests).
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"No Functions app at {path}")
    module = importlib.util.module_from_spec(spec)
    before = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        if before is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = before
        raise AppLoadError(f"Importing {path} failed: {type(exc).__name__}: {exc}") from exc
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(apps) != 1:
        raise AppLoadError(f"{path} must define exactly one FunctionApp/DFApp, found {len(apps)}")
    return FunctionIndex(apps[0], path.parent)


@functools.cache
def _takes_context(user: Callable[..., Any]) -> bool:
    """Whether a user function declares ``context`` (asked on every call; its signature is fixed)."""
    return "context" in inspect.signature(user).parameters


def _durable_name(trigger: Any, prop: str, function_name: str) -> str:
    """The name the Durable extension knows a function by: the trigger's ``orchestration`` /
    ``activity`` property when set, else the function's name.

    The extension's trigger binding providers register ``trigger.Orchestration ??
    <function name>`` (``trigger.Activity ?? ...``), so ``start_new`` and ``call_activity``
    use that name, not the Python function's.
    """
    return str(getattr(trigger, prop, None) or function_name)


# Where the host's own frames come from: this package, and the stdlib plumbing between the
# pool thread and an async function's event loop (concurrent.futures, asyncio).
_PLUMBING = tuple(
    str(Path(module.__file__).resolve().parent) + os.sep
    for module in (sys.modules[__name__], asyncio, sys.modules["concurrent.futures"])
    if module.__file__
)


def user_traceback(exc: BaseException) -> str:
    """A function's exception as the Python worker reports it to Azure: the user's frames only.

    The worker sends the exception's message and the stack from the user's function down; the
    host's own frames (the pool thread, the engine, the invocation) are not the app's and would
    not be there on Azure, so the leading run of them is dropped, here and in any cause or
    context chained to it.
    """
    report = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [report]
    while pending:
        part = pending.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        frames = list(part.stack)
        while frames and str(Path(frames[0].filename).resolve()).startswith(_PLUMBING):
            frames.pop(0)
        part.stack = traceback.StackSummary.from_list(frames)
        pending += [chained for chained in (part.__cause__, part.__context__) if chained is not None]
    return "".join(report.format())
