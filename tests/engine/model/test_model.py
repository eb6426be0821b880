import pytest
import torch

from engine.audio.features import FRAME_SHIFT_S, LogMel
from engine.audio.io import SAMPLE_RATE
from engine.model.audio_encoder import ENCODER_FRAME_S
from engine.model.config import ModelConfig
from engine.model.cross_modal import CrossModalModel, pad_tokens
from engine.model.subsampling import SUBSAMPLING
from engine.text.tokenizer import SOS_EOS


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


def test_an_encoder_frame_is_the_mel_hop_times_the_subsampling():
    assert ENCODER_FRAME_S == FRAME_SHIFT_S * SUBSAMPLING == 0.04
    m = CrossModalModel(ModelConfig(d_model=64, encoder_layers=1, decoder_layers=1, encoder_ffn=128, decoder_ffn=128))
    feats, lengths = LogMel()(torch.zeros(1, 4 * SAMPLE_RATE))  # 4 s
    n = int(m.encode(feats, lengths).lengths[0])
    assert abs(n * ENCODER_FRAME_S - 4.0) <= 2 * ENCODER_FRAME_S


@torch.inference_mode()
def test_candidates_scored_together_score_as_alone():
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=64, encoder_layers=2, decoder_layers=2, encoder_ffn=128, decoder_ffn=128)
    m = CrossModalModel(cfg).eval()
    enc = m.encode(torch.randn(1, 60, 80), torch.tensor([60]))  # 14 encoder frames
    candidates = [[5, 6, 7], [], [8], [9] * 20]  # the last cannot fit: CTC needs a frame per repeat and one between
    targets, lengths = pad_tokens(candidates)
    many = enc.expand(len(candidates))
    assert many.states.shape[0] == 4 and many.states.data_ptr() == enc.states.data_ptr()  # no copy
    ctc = m.ctc_log_likelihood(many, targets, lengths)
    att = m.attention_log_likelihood(many, targets, lengths)
    for i, c in enumerate(candidates[:3]):
        t, n = pad_tokens([c])
        assert torch.allclose(ctc[i], m.ctc_log_likelihood(enc, t, n)[0], atol=1e-5)
        assert torch.allclose(att[i], m.attention_log_likelihood(enc, t, n)[0], atol=1e-5)
        assert float(ctc[i]) < 0 and float(att[i]) < 0
    assert float(ctc[3]) == float("-inf") and float(m.ctc_log_likelihood(many, targets, lengths, True)[3]) == 0.0
    # log p_att of "nothing said" is the log-probability of <eos> as the first token
    logits, _ = m.decode_teacher_forced(enc, torch.zeros(1, 1, dtype=torch.long), torch.tensor([0]))
    assert torch.allclose(att[1], logits[0, 0].log_softmax(-1)[SOS_EOS], atol=1e-5)
    with pytest.raises(ValueError, match="one utterance"):
        many.expand(2)
