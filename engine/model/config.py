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

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse sizes the model cannot be built with (also run on construction).

        Raises:
            ValueError: one line naming the first bad field, e.g.
                ``"d_model must be a positive integer, got -144"``.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "dropout":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                    raise ValueError(f"dropout must be a number in [0, 1), got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        if self.d_model % 2:
            raise ValueError(f"d_model must be even (sinusoidal positions), got {self.d_model}")
        for heads in ("encoder_heads", "decoder_heads"):
            if self.d_model % getattr(self, heads):
                raise ValueError(f"{heads} ({getattr(self, heads)}) must divide d_model ({self.d_model})")
        if self.conv_kernel % 2 == 0:
            raise ValueError(f"conv_kernel must be odd, got {self.conv_kernel}")
        if self.n_mels < 7:  # the two stride-2 3×3 convolutions of the subsampling need 7 bands
            raise ValueError(f"n_mels must be at least 7, got {self.n_mels}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        """The config of a ``to_json`` dict; unknown keys are ignored.

        Raises:
            ValueError: ``data`` is not a dict, or a size is bad (see :meth:`check`).
        """
        if not isinstance(data, dict):
            raise ValueError(f"the model sizes must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
