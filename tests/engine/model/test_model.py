import torch

from engine.model.config import ModelConfig
from engine.model.cross_modal import CrossModalModel


def test_default_size_is_in_the_5_to_15M_range():
    n = CrossModalModel(ModelConfig()).num_parameters()
    assert 5e6 <= n <= 15e6


def test_shapes_attention_and_embeddings():
    cfg = ModelConfig(d_model=64, encoder_layers=2, decoder_layers=2, encoder_ffn=128, decoder_ffn=128, embed_dim=32)
    m = CrossModalModel(cfg).eval()
    feats, lengths = torch.randn(2, 101, 80), torch.tensor([101, 61])
    enc = m.encode(feats, lengths)
    assert enc.states.shape == (2, 24, 64)
    assert enc.lengths.tolist() == [24, 14]
    assert torch.allclose(enc.ctc_log_probs.exp().sum(-1), torch.ones(2, 24), atol=1e-4)
    targets, tl = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
    logits, att = m.decode_teacher_forced(enc, targets, tl, return_attention=True)
    assert logits.shape == (2, 4, cfg.vocab_size)
    assert att.shape == (2, 2, cfg.decoder_heads, 4, 24)  # (layers, batch, heads, tokens, frames)
    assert torch.allclose(att.sum(-1), torch.ones(2, 2, cfg.decoder_heads, 4), atol=1e-4)
    assert float(att[:, 1, :, :, 14:].detach().abs().max()) == 0.0  # padded frames get no attention
    a, t = m.audio_embedding(enc), m.text_embedding(targets, tl)
    assert a.shape == t.shape == (2, 32)
    assert torch.allclose(a.norm(dim=-1), torch.ones(2)) and torch.allclose(t.norm(dim=-1), torch.ones(2))


def test_decoder_and_text_encoder_share_the_embedding():
    m = CrossModalModel(ModelConfig())
    assert m.decoder.embedding.weight is m.embedding.weight is m.text_encoder.embedding.weight
