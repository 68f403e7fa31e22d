"""ganlens: look inside a pretrained GAN's latent space and steer it."""

from .errors import (CheckpointError, GanlensError, InputError, LatentError, ShapeError, UnknownModelError,
                     UnknownNameError, UnsafeCheckpointError)
from .latents import LatentCode
from .models import Generator, available_models, load

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "GanlensError", "Generator", "InputError", "LatentCode", "LatentError", "ShapeError",
    "UnknownModelError", "UnknownNameError", "UnsafeCheckpointError", "available_models", "load", "__version__",
]
