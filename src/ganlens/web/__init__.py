"""The web UI (`ganlens serve`): a FastAPI app over the library, and the static page that drives it.

`Studio` holds the model, directions, scorer and encoder; `create_app(studio)` builds the app.
"""

from .app import background_server, create_app
from .studio import Studio

__all__ = ["Studio", "background_server", "create_app"]
