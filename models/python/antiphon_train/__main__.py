"""Command line: `python -m antiphon_train <family> [options]` (see models/python/README.md)."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m antiphon_train",
                                description="Train an Antiphon model and export it as a contract ONNX file.")
    p.add_argument("family", choices=["melody"], help="model family (only 'melody' so far)")
    p.add_argument("--out", required=True, help="ONNX file to write, e.g. models/onnx/melody_basic.onnx")
    p.add_argument("--work", default="target/train/melody",
                   help="work dir: parse cache, evaluation MIDI, checkpoints (never committed)")
    p.add_argument("--data", default=None,
                   help="folder of your own MIDI files (read recursively) instead of music21's corpus")
    p.add_argument("--epochs", type=int, default=200,
                   help="at most this many epochs (the time budget and early stopping usually end training first)")
    p.add_argument("--max-minutes", type=float, default=45.0, help="training wall-time budget in minutes")
    p.add_argument("--resume", action="store_true", help="continue from <work>/checkpoints/last.pt")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clip")
    p.add_argument("--eval-every", type=int, default=200,
                   help="validate every N batches (and at each epoch end); 0 = only at epoch ends")
    p.add_argument("--patience", type=int, default=4, help="stop after N validations without a gain")
    p.add_argument("--log-seconds", type=float, default=20.0, help="seconds between progress lines")
    args = p.parse_args(argv)
    if args.family == "melody":
        from .train import train_melody

        train_melody(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
