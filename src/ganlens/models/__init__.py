"""Generators and checkpoint loading."""

from .native import load_generator, save_generator
from .registry import available_models, load
from .stylegan2 import Generator, MappingNetwork, SynthesisNetwork

__all__ = ["Generator", "MappingNetwork", "SynthesisNetwork", "available_models", "load", "load_generator", "save_generator"]
