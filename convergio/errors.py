"""Every error Convergio turns into an HTTP answer, in one tree.

    AppError(code, status_code)          base: {"error": {"code", "message"}}
    ├── InvalidRequest(AppError, ValueError)      400  malformed body, wrong types
    │   └── InvalidGraph                          422  graph spec rejected (details: path + message)
    ├── Unauthorized(AppError, PermissionError)   401  no key / unknown key
    ├── Forbidden(AppError, PermissionError)      403  the caller's role may not do this
    ├── NotFound(AppError, LookupError)           404  unknown or foreign id
    ├── Conflict(AppError)                        409  state does not allow the operation
    ├── PayloadTooLarge(AppError, ValueError)     413
    ├── UnsupportedMediaType(AppError, ValueError) 415  a body that is not declared as JSON
    ├── StoreUnavailable(AppError)                503  a control-plane backend is down (retry later)
    └── NotConfigured(AppError)                   503  the installation lacks a setting the route needs

Messages are written for the client and never carry secrets; ``details`` is a
list of ``{"path", "message"}`` objects naming each bad field, always present (maybe empty) so
clients read one shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AppError",
    "Conflict",
    "Forbidden",
    "InvalidGraph",
    "InvalidRequest",
    "NotConfigured",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "StoreUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
]

Problem = dict[str, str]
"""One bad field: ``{"path": "agents[2].depends_on[0]", "message": "..."}``."""


class AppError(Exception):
    """An error with a stable code and the HTTP status it maps to."""

    code: ClassVar[str] = "error"
    status_code: ClassVar[int] = 500

    def __init__(self, message: str, *, details: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """The JSON body sent to the client."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidRequest(AppError, ValueError):
    code = "invalid_request"
    status_code = 400


class InvalidGraph(InvalidRequest):
    code = "invalid_graph"
    status_code = 422

    @classmethod
    def from_problems(cls, problems: list[Problem]) -> InvalidGraph:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(f"{first['path']}: {first['message']}{more}", details=problems)


class Unauthorized(AppError, PermissionError):
    code = "unauthorized"
    status_code = 401


class Forbidden(AppError, PermissionError):
    code = "forbidden"
    status_code = 403


class NotFound(AppError, LookupError):
    code = "not_found"
    status_code = 404


class Conflict(AppError):
    code = "conflict"
    status_code = 409


class PayloadTooLarge(AppError, ValueError):
    code = "payload_too_large"
    status_code = 413


class UnsupportedMediaType(AppError, ValueError):
    code = "unsupported_media_type"
    status_code = 415


class StoreUnavailable(AppError):
    """A store's backend (Cosmos DB, Blob Storage, the state directory) cannot be used right now.

    Never cached: the next call tries the backend again, so the app recovers when it does.
    The message names the store and the kind of failure, never an endpoint's key.
    """

    code = "store_unavailable"
    status_code = 503


class NotConfigured(AppError):
    """The installation lacks a setting this route needs (e.g. no setup code on a hosted instance).

    An operator's problem, not the caller's: the message says which setting, never its value.
    """

    code = "not_configured"
    status_code = 503
