"""The classroom server as one web application: the API (classroom/server) and the web
pages (classroom/web) on one FastAPI app, as `labctl serve` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from labctl.classroom.server.app import create_app as create_api
from labctl.classroom.server.config import ServerConfig
from labctl.classroom.web import assets, class_page, lab_page, pages, sessions
from labctl.service.lab_service import LabService


def create_app(config: ServerConfig, ops: LabService | None = None) -> FastAPI:
    return create_api(config, ops, pages=_install_pages)


def _install_pages(app: FastAPI) -> None:
    app.state.web_sessions = sessions.Sessions()
    app.include_router(assets.router)
    app.include_router(lab_page.router)
    app.include_router(class_page.router)
    app.include_router(pages.router)
    app.add_middleware(sessions.CookieLogin)
