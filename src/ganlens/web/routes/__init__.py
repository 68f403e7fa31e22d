"""The API's routers, one per resource; `ROUTERS` is the order `create_app` includes them in."""

from . import downloads, edits, jobs, restoration, sessions, stylespace, uploads

ROUTERS = (sessions.router, edits.router, uploads.router, restoration.router, jobs.router, downloads.router,
           stylespace.router)

__all__ = ["ROUTERS"]
