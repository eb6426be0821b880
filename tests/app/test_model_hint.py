"""What the hint under a transcript says a Sayso model is made for (``app/window/transcription.py``)."""
from __future__ import annotations

from engine.registry.index import BUILTIN_ID, ModelRegistry
from tests.helpers import bundled_model


def test_each_bundled_model_is_described_by_its_own_card_and_a_users_model_generically():
    from app.window.transcription import GENERIC_MADE_FOR, made_for

    registry = ModelRegistry()
    sayso = {e.id: e for e in registry.list() if e.family == "sayso"}
    base = made_for(sayso[BUILTIN_ID])
    assert base.startswith("digits, the 35 Speech Commands words")
    others = [e for e in sayso.values() if e.id != BUILTIN_ID]
    assert others, "sayso-base-v2 ships beside sayso-base"
    for entry in others:  # e.g. sayso-base-v2: sentences of the AN4 kind, not "digits and commands"
        described = made_for(entry)
        assert described not in (base, GENERIC_MADE_FOR)
        assert entry.notes.lower().startswith(described.lower().split(" and ")[0])
        assert "(" not in described

    mine = registry.register(bundled_model(), "my voice", copy=False, notes="Trained on my kitchen recordings.")
    assert made_for(mine) == GENERIC_MADE_FOR  # a user's notes are not a claim about what the model can do
