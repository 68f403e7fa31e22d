"""Generators (StyleGAN2, StyleGAN v1, PGGAN, StyleGAN3 behind one interface) and checkpoint loading."""

from .base import GeneratorMixin
from .genforce import load_genforce
from .native import load_generator, save_generator
from .pggan import PGGANGenerator
from .registry import FORMATS, available_models, load
from .stylegan1 import StyleGAN1Generator
from .stylegan2 import Generator, MappingNetwork, SynthesisNetwork
from .stylegan3 import Generator as StyleGAN3Generator

__all__ = ["FORMATS", "Generator", "GeneratorMixin", "MappingNetwork", "PGGANGenerator", "StyleGAN1Generator",
           "StyleGAN3Generator", "SynthesisNetwork", "available_models", "load", "load_generator", "load_genforce",
           "save_generator"]
