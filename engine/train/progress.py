"""Terminal progress for training runs (tqdm)."""
from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm


def progress_printer(log_lines: bool = True) -> Callable[[dict], None]:
    """An ``on_event`` callback for :class:`engine.train.trainer.Trainer`: a tqdm bar per epoch.

    With ``log_lines`` the trainer's log messages are printed above the bar (leave it off
    when Python logging already prints them).
    """
    state = {"bar": None}

    def on_event(e: dict) -> None:
        if e["type"] == "progress" and e.get("stage") == "train":
            bar = state["bar"]
            if bar is None or bar.desc != f"epoch {e['epoch']}/{e['epochs']}":
                if bar is not None:
                    bar.close()
                bar = state["bar"] = tqdm(total=e["total"], desc=f"epoch {e['epoch']}/{e['epochs']}", unit="batch")
            bar.n = e["done"]
            bar.set_postfix(loss=f"{e['loss']:.2f}", refresh=False)
            bar.refresh()
        elif e["type"] == "log" and log_lines:
            tqdm.write(e["message"])

    return on_event
