"""The pixel world model (LaWM and its unconstrained baseline)."""

from lawm_env.model.transitions import DELTransition, MLPTransition, TransitionState, parameter_count
from lawm_env.model.vision import ConvDecoder, ConvEncoder, to_uint8
from lawm_env.model.world_model import Imagined, WorldModel, WorldModelConfig, build_transition

__all__ = [
    "ConvDecoder", "ConvEncoder", "DELTransition", "Imagined", "MLPTransition", "TransitionState", "WorldModel",
    "WorldModelConfig", "build_transition", "parameter_count", "to_uint8",
]
