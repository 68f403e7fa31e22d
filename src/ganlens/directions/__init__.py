"""Semantic directions in a GAN's latent space: supervised (InterFaceGAN SVM, scorer gradient), conditional, SeFa,
GANSpace. Auto-labelling a direction by what it changes is a measurement: `ganlens.analysis.autolabel`.

Every method returns `Direction` objects (unit vector + space + layers + provenance), saved as .npz + .json.
"""

from .bundled import bundled_directions_dir, load_bundled, resolve_direction
from .conditional import project_out
from .direction import Direction, load_directions
from .ganspace import ganspace
from .gradient import gradient_direction
from .sefa import sefa, style_weights
from .svm import fit_boundaries, fit_boundary, fit_layer_boundaries

__all__ = [
    "Direction", "bundled_directions_dir", "fit_boundaries", "fit_boundary", "fit_layer_boundaries",
    "ganspace", "gradient_direction", "load_bundled", "load_directions", "project_out", "resolve_direction", "sefa",
    "style_weights",
]
