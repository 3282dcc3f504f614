"""Two-stage generation: SiT generators over token sets, flow-matching samplers, layout and texture stages."""
from __future__ import annotations

from .._callable_module import make_module_callable
from .checkpoint import load_generator, read_generator_config, save_generator
from .config import PRESETS, GeneratorConfig, from_official_yaml, preset
from .generator import Generator
from .layout import calibrated_layout, sample_layouts
from .options import LAYOUT_SAMPLING, METHODS, TEXTURE_SAMPLING, GenerateOptions, SamplerOptions
from .pipeline import Generated, check_compatible, generate
from .samplers import sample
from .texture import sample_tokens

__all__ = [
    "Generator", "GeneratorConfig", "PRESETS", "preset", "from_official_yaml", "load_generator",
    "read_generator_config", "save_generator",
    "sample", "METHODS", "sample_layouts", "calibrated_layout", "sample_tokens", "generate", "Generated",
    "check_compatible", "GenerateOptions", "SamplerOptions", "TEXTURE_SAMPLING", "LAYOUT_SAMPLING",
]

make_module_callable(__name__)
