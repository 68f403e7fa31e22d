"""The API's routers, one per resource; `ROUTERS` is the order `create_app` includes them in."""

from . import downloads, edits, jobs, sessions, uploads

ROUTERS = (sessions.router, edits.router, uploads.router, jobs.router, downloads.router)

__all__ = ["ROUTERS"]
