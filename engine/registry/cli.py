"""``sayso models``: the model registry from the command line (headless).

    python -m engine.registry.cli list [--json]
    python -m engine.registry.cli show ID [--json]
    python -m engine.registry.cli register CHECKPOINT --name NAME [--parent ID|DIR] [--train MANIFEST] [--copy]
                                         [--notes TEXT] [--use]
    python -m engine.registry.cli import DIR [--name NAME] [--copy] [--notes TEXT] [--use]
    python -m engine.registry.cli pull NAME [--base-url URL] [--use]
    python -m engine.registry.cli compare ID_A ID_B MANIFEST [--vocabulary FILE] [--json]
    python -m engine.registry.cli export ID|DIR OUT_DIR [--torchscript FILE.pt] [--onnx FILE.onnx] [--overwrite]
    python -m engine.registry.cli use ID
    python -m engine.registry.cli remove ID

``--root DIR`` (before the command) picks another registry folder. Every user
error (argparse's too) prints one line ``sayso models: error: …`` and exits with status 2
(offline, a pull says so in that line). ``pull`` prints its progress on stderr
(one updating line on a terminal, otherwise a line every 10 %); Ctrl+C cancels
it (status 130) and keeps what was downloaded, so the same command resumes.
:func:`main` takes ``argv`` so ``sayso models …`` can hand its arguments on.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from engine.checkpoint_layout import SAYSO_FAMILY
from engine.command_line import OneLineParser, os_error_line, positive_int
from engine.data.manifest import ManifestError
from engine.registry.index import BUILTIN_ID, ModelEntry, ModelRegistry, RegistryError
from engine.whisper.runtime import WHISPER_EXTRA, whisper_missing

PROG = "sayso models"


def _entry_json(e: ModelEntry, active: str | None = None) -> dict:
    d = e.to_json()
    d["available"] = e.available
    if active is not None:
        d["active"] = e.id == active
    return d


def cmd_list(reg: ModelRegistry, args) -> int:
    entries, active = reg.list(), reg.active().id
    if args.json:
        print(json.dumps([_entry_json(e, active) for e in entries], indent=2))
        return 0
    print(f"   {'id':<26} {'name':<18} {'family':<7} {'size':<8} {'params':>7} {'disk':>7}  {'parent':<16} "
          f"{'sets':>4}  source")
    for e in entries:
        mark = "*" if e.id == active else " "
        params = f"{e.config['parameters'] / 1e6:.2f}M" if e.config.get("parameters") else "?"
        disk = f"{e.config['bytes'] / 1e6:.0f} MB" if e.config.get("bytes") else "?"
        flag = "" if e.available else "  [checkpoint missing]"
        print(f" {mark} {e.id:<26} {e.name[:18]:<18} {e.family:<7} {e.config.get('size', '-'):<8} {params:>7} "
              f"{disk:>7}  {(e.parent_id or e.parent_path or '-')[:16]:<16} {len(e.metrics):>4}  "
              f"{_short(e.source, 60)}{flag}")
    print(f"(* active; registry: {reg.root})")
    if whisper_missing():
        print(f"(no Whisper models: {WHISPER_EXTRA} adds them)")
    return 0


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def cmd_show(reg: ModelRegistry, args) -> int:
    e = reg.get(args.id)
    if args.json:
        print(json.dumps(_entry_json(e, reg.active().id), indent=2))
        return 0
    kind = ", built-in, read-only" if e.builtin else ", read-only" if e.read_only else ""
    print(f"{e.name}  ({e.id}{kind})")
    print(f"  family    {e.family}")
    print(f"  source    {e.source or '-'}")
    print(f"  path      {e.path}{'' if e.available else '  [missing]'}")
    print(f"  created   {e.created or '-'}")
    if e.parent_id or e.parent_path:
        print(f"  parent    {e.parent_id or ''} {e.parent_path or ''}".rstrip())
    if e.config:
        print("  config    " + ", ".join(f"{k}={v}" for k, v in e.config.items()))
    if e.data_fingerprint:
        print(f"  data      {e.train_utterances} utterances, fingerprint {e.data_fingerprint}")
    for name, m in e.metrics.items():
        wer, cer = m.get("wer"), m.get("cer")
        print(f"  {name}: WER {wer:.2%}  CER {cer:.2%}  ({m.get('utterances', '?')} utterances)"
              if isinstance(wer, (int, float)) and isinstance(cer, (int, float)) else f"  {name}: {m}")
    if e.notes:
        print(f"  notes     {e.notes}")
    return 0


def cmd_register(reg: ModelRegistry, args) -> int:
    e = reg.register(args.checkpoint, args.name, parent=args.parent, train_data=args.train, copy=args.copy,
                     notes=args.notes or "")
    if args.use:
        reg.set_active(e.id)
    print(e.id)
    return 0


def cmd_import(reg: ModelRegistry, args) -> int:
    e = reg.import_model(args.folder, name=args.name, copy=args.copy, notes=args.notes or "")
    if args.use:
        reg.set_active(e.id)
    how = f"copied into {e.path}" if e.stored else f"referenced at {e.path}"
    print(f"{e.id}\t{e.family}\t{how}")
    return 0


def cmd_pull(reg: ModelRegistry, args) -> int:
    cancel = threading.Event()
    show = _progress_printer(args.name)

    def interrupted(signum, frame) -> None:
        if cancel.is_set():  # a second Ctrl+C: stop at once
            raise KeyboardInterrupt
        cancel.set()

    previous = signal.signal(signal.SIGINT, interrupted) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        e = reg.pull(args.name, base_url=args.base_url, progress=show, cancel=cancel)
    finally:
        show(None, None)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.use:
        reg.set_active(e.id)
    print(f"{e.id}\t{e.config.get('size', '')}\t{e.path}")
    return 0


def _progress_printer(name: str):
    """``show(done, total)`` printing a pull's progress on stderr; ``show(None, None)`` ends the line."""
    tty = sys.stderr.isatty()
    started, last = time.monotonic(), [-1, False]

    def show(done: int | None, total: int | None) -> None:
        if done is None:
            if tty and last[1]:
                print(file=sys.stderr)
            return
        percent = int(100 * done / total) if total else 0
        rate = done / max(time.monotonic() - started, 1e-3) / 1e6
        line = f"{name}: {done / 1e6:.1f} / {(total or 0) / 1e6:.1f} MB ({percent}%)  {rate:.1f} MB/s"
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
            last[1] = True
        elif percent // 10 != last[0] // 10 or (done == total and last[0] != 100):
            print(line, file=sys.stderr, flush=True)
        last[0] = percent

    return show


def cmd_compare(reg: ModelRegistry, args) -> int:
    import torch

    from engine.decode.vocabulary import Vocabulary

    torch.set_num_threads(args.threads)
    vocab = Vocabulary.from_file(args.vocabulary) if args.vocabulary else None
    c = reg.compare(args.a, args.b, args.manifest, vocab, threads=args.threads)
    if args.json:
        print(json.dumps(c.to_json(), indent=2))
        return 0
    n = len(c.utterances)
    print(f"test set {c.set_name} ({n} utterances)")
    for tag, e, r, wins in (("A", c.a, c.report_a, c.wins_a), ("B", c.b, c.report_b, c.wins_b)):
        print(f"  {tag} {e.id:<28} WER {r.wer:7.2%}  CER {r.cer:7.2%}  better on {wins}/{n}")
    print(f"  ties {c.ties}/{n}; " + (f"{'A' if c.winner == 'a' else 'B'} is better overall" if c.winner
                                     else "equal overall"))
    for u in c.utterances:
        if u.winner:
            print(f"    {u.winner.upper()} wins  ref {u.reference!r}  A {u.hypothesis_a!r}  B {u.hypothesis_b!r}  "
                  f"{Path(u.audio_filepath).name}")
    return 0


def cmd_export(reg: ModelRegistry, args) -> int:
    from engine.registry.export import ExportUnavailable, export_model, export_onnx, export_torchscript

    entry = reg.resolve(args.model)
    if entry.family != SAYSO_FAMILY:
        raise RegistryError(f"{entry.id}: export writes Sayso checkpoints; a {entry.family} model folder is "
                            f"standalone already (copy {entry.path}).")
    out = export_model(entry, args.out, overwrite=args.overwrite)
    print(f"checkpoint  {out}")
    if args.torchscript:
        r = export_torchscript(entry, args.torchscript)
        print(f"torchscript {r.path}  (max abs diff of CTC log-probs vs PyTorch: {r.max_abs_diff:.3g})")
    if args.onnx:
        try:
            r = export_onnx(entry, args.onnx)
        except ExportUnavailable as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        diff = f"max abs diff {r.max_abs_diff:.3g}" if r.max_abs_diff is not None else r.note
        print(f"onnx        {r.path}  ({diff})")
    return 0


def cmd_use(reg: ModelRegistry, args) -> int:
    e = reg.set_active(args.id)
    print(f"active model: {e.id} ({e.name})")
    return 0


def cmd_remove(reg: ModelRegistry, args) -> int:
    e = reg.remove(args.id)
    kept = "" if e.stored else f"; its checkpoint stays at {e.path}"
    print(f"removed {e.id}{kept}")
    return 0


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = OneLineParser(prog=prog, command=PROG, description="The model registry: trained models, their lineage, "
                                "data fingerprints and figures.")
    p.add_argument("--root", type=Path, help="registry folder (default: the user data folder's models/)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list the models (* marks the active one)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("show", help="one model's lineage, data fingerprint and figures")
    s.add_argument("id")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("register", help="add a checkpoint folder; prints the new id")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("--name", required=True)
    s.add_argument("--parent", help=f"id (e.g. {BUILTIN_ID}) or checkpoint folder it was trained from")
    s.add_argument("--train", type=Path, metavar="MANIFEST", help="training manifest, to fingerprint the data")
    s.add_argument("--copy", action="store_true", help="copy the checkpoint into the registry")
    s.add_argument("--notes")
    s.add_argument("--use", action="store_true", help="make it the active model")
    s.set_defaults(func=cmd_register)

    s = sub.add_parser("import", help="register any model folder (a Sayso checkpoint or a CTranslate2 Whisper "
                       "folder); prints its id")
    s.add_argument("folder", type=Path)
    s.add_argument("--name", help="default: the folder's name (Whisper: whisper-<size>)")
    s.add_argument("--copy", action="store_true", help="copy it into the registry (otherwise it is referenced, "
                   "never written)")
    s.add_argument("--notes")
    s.add_argument("--use", action="store_true", help="make it the active model")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("pull", help="download a Whisper model from the model hub (resumable; Ctrl+C cancels)")
    s.add_argument("name", help="e.g. whisper-small, whisper-base.en, whisper-medium")
    s.add_argument("--base-url", help="the model hub (default https://huggingface.co)")
    s.add_argument("--use", action="store_true", help="make it the active model")
    s.set_defaults(func=cmd_pull)

    s = sub.add_parser("compare", help="WER/CER of two models on the same test manifest; stored in both")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("manifest", type=Path)
    s.add_argument("--vocabulary", type=Path, help="file with one word or phrase per line")
    s.add_argument("--threads", type=positive_int, default=2)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("export", help="write a standalone checkpoint + model card (and TorchScript/ONNX)")
    s.add_argument("model", help="registry id or checkpoint folder")
    s.add_argument("out", type=Path)
    s.add_argument("--torchscript", type=Path, metavar="FILE.pt", help="also the encoder + CTC path as TorchScript")
    s.add_argument("--onnx", type=Path, metavar="FILE.onnx", help="also the encoder + CTC path as ONNX (needs onnx)")
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("use", help="make a model the active one")
    s.add_argument("id")
    s.set_defaults(func=cmd_use)

    s = sub.add_parser("remove", help="forget a model (deletes its files only if the registry copied them)")
    s.add_argument("id")
    s.set_defaults(func=cmd_remove)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one ``sayso models`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    errors: tuple[type[BaseException], ...] = (RegistryError, ManifestError)
    if args.command == "compare":  # these modules import torch: only when the command decodes
        from engine.audio.errors import AudioError
        from engine.decode.vocabulary import VocabularyError

        errors += (AudioError, VocabularyError)
    if args.command == "export":
        from engine.registry.export import ExportError

        errors += (ExportError,)
    if args.command == "pull":
        from engine.whisper.download import DownloadCancelled, DownloadError

        errors += (DownloadError,)
    try:
        return args.func(ModelRegistry(args.root), args)
    except errors as exc:
        if args.command == "pull" and isinstance(exc, DownloadCancelled):
            print(f"{PROG}: pull cancelled; run the same command again to resume.", file=sys.stderr)
            return 130
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing or unreadable file, a full disk, a read-only folder
        print(f"{PROG}: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
