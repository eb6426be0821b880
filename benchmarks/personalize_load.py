"""Quick personalization through the studio's own path, idle and beside busy processes.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/personalize_load.py [--takes 3] [--busy 0,2] [--steps 60]
           [--model whisper-base]

The studio's Train tab (offscreen Qt: the real :class:`app.training.panel.TrainingPanel` in the
main window) personalizes the bundled model on k takes per digit of the held-out FSDD speaker
*nicolas* (his first takes; 3 of his other takes per digit for validation), preset
"Personalize", the default steps, started with its Start button, exactly as a user would
(``--model whisper-base``: with Whisper base in use, the Train tab's Whisper personalization). The
job runs in the training worker process; the time is from Start to the evaluation shown
(start-up, model load, rehearsal data, steps, saving, evaluation), as a person waits for it; the
phases split it at the first progress event, the first and last step, and the job's end, when the new
model is registered and in use ("model ready"), before the evaluation of the validation takes.

``--busy N``: N processes spinning on the CPU run beside it (``python -c "while True: pass"``),
the "noisy shared machine" of the issue. Each run prints the wall time, the seconds to the first
step, the steps per second, the load average and the worker's thread count.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def takes(k: int) -> tuple[list, list]:
    from engine.recipes.datasets import FSDD_HELDOUT_SPEAKERS, real_splits

    held = sorted(real_splits().test["fsdd-heldout"], key=lambda u: str(u.audio_path))
    by_digit: dict[str, list] = {}
    for u in held:
        by_digit.setdefault(u.text, []).append(u)
    train = [u for us in by_digit.values() for u in us[:k]]
    dev = [u for us in by_digit.values() for u in us[k: k + 3]]
    assert train and all(FSDD_HELDOUT_SPEAKERS[0] in str(u.audio_path) for u in train)
    return train, dev


def run_once(k: int, steps: int | None, folder: Path, model: str | None = None) -> dict:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.main_window import MainWindow
    from engine.data.manifest import write_manifest
    from engine.resources import BUNDLED_MODEL

    app = QApplication.instance() or QApplication(sys.argv[:1])
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.No)  # "use it now?": nobody watches
    train, dev = takes(k)
    write_manifest(folder / "train.jsonl", train)
    write_manifest(folder / "dev.jsonl", dev)
    window = MainWindow(BUNDLED_MODEL)
    window.show()
    if model:
        from engine.registry.index import ModelRegistry

        assert window.switch_model(ModelRegistry().prepare(model).path)
    panel = window.training
    panel.form.models_root = folder / "models"
    panel.data_choice.set_manifests(folder / "train.jsonl", folder / "dev.jsonl")
    panel.form.set_preset("personalize")
    if steps:
        panel.form.length_spin.setValue(steps)
    first_step: list[float] = []
    last_step: list[float] = []
    job_end: list[float] = []
    first_event: list[float] = []  # the first take loaded (Whisper: its lower encoder cached), or the first step
    steps_only = lambda e: e.stage == "personalize"  # noqa: E731 — the "loading" stage comes before the steps
    panel.queue.progress.connect(lambda e: first_event or first_event.append(time.perf_counter()))
    panel.queue.progress.connect(lambda e: first_step or not steps_only(e) or e.done < 1
                                 or first_step.append(time.perf_counter()))
    panel.queue.progress.connect(lambda e: not steps_only(e) or e.done < e.total or last_step.append(time.perf_counter()))
    panel.queue.finished.connect(lambda e: job_end or job_end.append(time.perf_counter()))
    used: list[str] = []  # the worker's own word on its threads ("…, 60 steps, 1 CPU thread(s)")
    panel.queue.log.connect(lambda e: "CPU thread(s)" in e.message and used.append(
        e.message.rsplit(", ", 1)[-1].split()[0]))
    done: list[object] = []
    panel.evaluation_ready.connect(lambda r: done.append(r))
    panel.queue.failed.connect(lambda e: done.append(e))
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    assert panel.start(), panel.display.message_label.text()
    while not done:
        app.processEvents()
        time.sleep(0.005)
    end = time.perf_counter()
    wall = end - t0
    n_steps = panel.form.length_spin.value()  # with a Whisper base the form shows (and runs) Whisper's recipe
    # phases as a person sees them: start-up, loading the takes, the steps, saving, the evaluation
    phases = {}
    if first_event and first_step and last_step and job_end:
        phases = {"start-up": first_event[0] - t0, "loading": first_step[0] - first_event[0],
                  "steps": last_step[0] - first_step[0], "save+register": job_end[0] - last_step[0],
                  "model ready": job_end[0] - t0, "evaluation": end - job_end[0]}
    window.close()
    ok = not hasattr(done[0], "kind")
    return {"ok": ok, "wall": wall, "first": (first_step[0] - t0) if first_step else float("nan"), "steps": n_steps,
            "load": load, "threads": used[0] if used else "?", "message": "" if ok else getattr(done[0], "message", ""),
            "phases": phases}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--takes", type=int, default=3, help="takes per digit")
    p.add_argument("--busy", default="0,2", help="comma-separated numbers of busy processes beside it")
    p.add_argument("--steps", type=int, default=None, help="steps (default: the preset's)")
    p.add_argument("--model", default=None, help="the model in use (default: the bundled Sayso model)")
    args = p.parse_args()
    for n in (int(x) for x in args.busy.split(",")):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
        try:
            if n:
                time.sleep(20)  # let the load average see them
            with tempfile.TemporaryDirectory(prefix="sayso-bench-personalize-") as tmp:
                os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
                os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
                r = run_once(args.takes, args.steps, Path(tmp), args.model)
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        status = "" if r["ok"] else f"  FAILED: {r['message']}"
        print(f"busy processes {n}: {args.model or 'sayso-base'} personalized ({args.takes} takes/digit, {r['steps']} steps) in {r['wall']:.1f} s "
              f"from Start to evaluation; first step after {r['first']:.1f} s; {r['threads']} worker thread(s); "
              f"load average at start {r['load']:.1f} on {os.cpu_count()} cores{status}", flush=True)
        if r["phases"]:
            print("   phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items()), flush=True)
        time.sleep(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
