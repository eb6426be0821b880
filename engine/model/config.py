"""Model sizes in one small dataclass (after openai/whisper's ``ModelDimensions``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class ModelConfig:
    """Sizes of the cross-modal model.

    The defaults give about 5.3M parameters: an 8-layer Conformer encoder of
    width 144, a 2-layer attention decoder and a 2-layer text encoder, with a
    128-dimensional shared audio–text embedding space.
    """

    vocab_size: int = 31
    n_mels: int = 80
    subsampling_channels: int = 64
    d_model: int = 144
    encoder_layers: int = 8
    encoder_heads: int = 4
    encoder_ffn: int = 576
    conv_kernel: int = 15
    decoder_layers: int = 2
    decoder_heads: int = 4
    decoder_ffn: int = 576
    text_encoder_layers: int = 2
    embed_dim: int = 128
    max_text_len: int = 256
    dropout: float = 0.1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
