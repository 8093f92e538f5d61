"""Command line: `python -m antiphon_train <family> [options]` (see models/python/README.md)."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m antiphon_train",
                                description="Train an Antiphon model and export it as a contract ONNX file.")
    p.add_argument("family", choices=["melody", "drums", "improv", "polyphony", "performance", "pianoroll"], help="model family")
    p.add_argument("--model", choices=["basic", "lookback", "attention", "drum_kit", "improv", "polyphony",
                                        "performance"], default=None,
                   help="model kind within the family (melody: basic, lookback, attention; drums: drum_kit; "
                        "improv: improv); default: the family's first")
    p.add_argument("--out", required=True, help="ONNX file to write, e.g. models/onnx/melody_basic.onnx")
    p.add_argument("--work", default=None,
                   help="work dir: evaluation MIDI, checkpoints (never committed); default target/train/<kind>")
    p.add_argument("--cache", default="target/train/cache", help="parse cache of the ABC corpora")
    p.add_argument("--data", default=None,
                   help="folder of your own MIDI files (read recursively) instead of the default corpus "
                        "(drums: channel-10 notes; improv: chord symbols as marker events)")
    p.add_argument("--groove", default="../shared/data/groove", help="Groove MIDI Dataset folder (drums)")
    p.add_argument("--jsb", default="../shared/data/jsb", help="JSB chorales folder (polyphony)")
    p.add_argument("--nottingham", default="../shared/data/nottingham", help="Nottingham database folder (improv)")
    p.add_argument("--epochs", type=int, default=200,
                   help="at most this many epochs (the time budget and early stopping usually end training first)")
    p.add_argument("--max-minutes", type=float, default=45.0, help="training wall-time budget in minutes")
    p.add_argument("--resume", action="store_true", help="continue from <work>/checkpoints/last.pt")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--hidden", type=int, default=None, help="LSTM units per layer (default: the kind's)")
    p.add_argument("--layers", type=int, default=None)
    p.add_argument("--attn", type=int, default=None, help="attention length on layer 0 (0 = none)")
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--clip", type=float, default=None, help="gradient-norm clip")
    p.add_argument("--eval-every", type=int, default=200,
                   help="validate every N batches (and at each epoch end); 0 = only at epoch ends")
    p.add_argument("--patience", type=int, default=4, help="stop after N validations without a gain")
    p.add_argument("--log-seconds", type=float, default=20.0, help="seconds between progress lines")
    p.add_argument("--nade-hidden", type=int, default=128, help="NADE hidden units (pianoroll)")
    args = p.parse_args(argv)
    if args.family == "pianoroll":
        from . import nade

        if args.work is None:
            args.work = "target/train/pianoroll"
        nade.train(args)
        return 0
    from .train import KIND_DEFAULT, train

    if args.work is None:
        args.work = f"target/train/{args.model or KIND_DEFAULT[args.family]}"
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
