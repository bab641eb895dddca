"""Every failure as one JSON message with a 4xx (or 503 when the engine fails)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from labctl.errors import (
    EngineUnavailable,
    FileRefused,
    LabctlError,
    LabInvalid,
    LabNotFound,
    NotRunning,
    RuntimeFailure,
)

log = logging.getLogger("labctl.classroom.server")


def status_of(exc: LabctlError) -> int:
    if isinstance(exc, LabNotFound):
        return 404
    if isinstance(exc, NotRunning):
        return 409
    if isinstance(exc, LabInvalid | FileRefused):
        return 422
    if isinstance(exc, EngineUnavailable | RuntimeFailure):
        return 503
    return 400 if exc.exit_code == 2 else 503


def _problem(status: int, detail: str, headers=None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "request"


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first, *rest = exc.errors() or [{"loc": (), "msg": "invalid request"}]
        more = f" (and {len(rest)} more problems)" if rest else ""
        if first.get("type") == "json_invalid":
            return _problem(422, f"body: malformed JSON ({first.get('ctx', {}).get('error')})")
        return _problem(422, f"{_where(first.get('loc', ()))}: {first.get('msg')}{more}")

    @app.exception_handler(LabctlError)
    async def labctl_error(_request: Request, exc: LabctlError) -> JSONResponse:
        return _problem(status_of(exc), str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Engine errors arrive as labctl's own (the runtime wraps them): anything else is a bug.
        log.exception("unexpected error")
        return _problem(500, f"internal error: {type(exc).__name__}")
