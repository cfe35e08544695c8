"""PyTorch definitions of Timbrel's model families, built from exportable sequence graphs."""

from .crossmodal_vae import CrossmodalVAE
from .gmvae import GMVAE
from .layers import CausalPad, Flatten, Log1p, Pad1d, SequenceGraph, Unflatten, VectorQuantizer
from .vq_timbre import VQTimbre

FAMILIES = {"vq_timbre": VQTimbre, "crossmodal_vae": CrossmodalVAE, "gmvae": GMVAE}

__all__ = ["CausalPad", "CrossmodalVAE", "FAMILIES", "Flatten", "GMVAE", "Log1p", "Pad1d",
           "SequenceGraph", "Unflatten", "VQTimbre", "VectorQuantizer"]
