"""Train a model (melody basic/lookback/attention, drum kit, improv) on CPU, evaluate it per
CONTRACT.md "Evaluation" with unigram and bigram baselines, export and verify the ONNX file."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import data as data_mod
from . import datasets
from . import features

LICENSES = {
    "essenFolksong": {
        "name": "Essen Folksong Collection (music21 corpus: essenFolksong)",
        "source": "PyPI music21 10.5.1, music21/corpus/essenFolksong/*.abc (ABC by Seymour Schlien; "
                  "test*.abc excerpts excluded)",
        "license": "Non-commercial. music21's corpus/essenFolksong/license.txt: the legal status of the Essen "
                   "folksong database is unclear (input by many people); Prof. Ewa Dahlig-Turek gave "
                   "permission for non-commercial distribution and use of these files in music21; the ABC "
                   "encodings by Seymour Schlien are distributed with music21 by his permission.",
    },
    "oneills1850": {
        "name": "O'Neill's Music of Ireland, 1850 melodies (music21 corpus: oneills1850)",
        "source": "PyPI music21 10.5.1, music21/corpus/oneills1850/*.abc (transcribed by Norbert Paap)",
        "license": "Tunes published 1903 (public domain). The encodings fall under music21's "
                   "corpus/license.txt: distributed with the permission of the encoders; 'some encodings "
                   "included in the corpus may not be used for commercial uses or have other restrictions'.",
    },
    "ryansMammoth": {
        "name": "Ryan's Mammoth Collection (music21 corpus: ryansMammoth)",
        "source": "PyPI music21 10.5.1, music21/corpus/ryansMammoth/*.abc (ABC contributed by Ray Davies)",
        "license": "Tunes published 1883 (public domain). The encodings fall under music21's "
                   "corpus/license.txt: distributed with the permission of the encoders; 'some encodings "
                   "included in the corpus may not be used for commercial uses or have other restrictions'.",
    },
}

LICENSES["groove"] = {
    "name": "Groove MIDI Dataset v1.0.0 (Magenta)",
    "source": "../shared/data/groove (info.csv splits train / validation; 4 steps per quarter at each file's bpm)",
    "license": "CC BY 4.0 (groove/LICENSE): Gillick, Roberts, Engel, Eck, Bamman, 'Learning to Groove with "
               "Inverse Sequence Transformations', ICML 2019",
}
LICENSES["jsb"] = {
    "name": "JSB Chorales, piano-roll frames (Boulanger-Lewandowski et al. 2012 split)",
    "source": "../shared/data/jsb/jsb-chorales-16th.train-valid.json (train split, 16th-note frames; a pitch "
              "in consecutive frames is one held note)",
    "license": "Public-domain music (J. S. Bach); no license stated for the encoding",
}
LICENSES["nottingham"] = {
    "name": "Nottingham Music Database, cleaned ABC (melodies with chord symbols)",
    "source": "../shared/data/nottingham/ABC_cleaned (parsed with music21 10.5.1; all 12 keys)",
    "license": "GPL-3.0 (nottingham/LICENSE.md)",
}

WHY_THIS_SIZE_BASIC = (
    "Magenta's basic_rnn configuration: 2 LSTM layers of 128 units (the published basic_rnn.mag "
    "bundle is larger, 2x512). On the 1.8M-step training split the 128-unit stack runs about 80 "
    "epochs in the 45-minute budget on 2 shared CPU cores and is still improving slowly when the "
    "budget ends, so a 2x512 stack (about 15x the compute per step) would be far from converged. "
    "At 0.22M parameters one generation step takes about 0.04 ms (batch 1) to 0.06 ms (batch 8) "
    "in ONNX Runtime on one core, so beam search stays real-time."
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_secs(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


#: Per model kind: file name, family, description, size and training defaults (overridable).
KINDS = {
    "basic": {
        "name": "melody_basic", "family": "melody", "hidden": 128, "layers": 2, "attn": 0, "dropout": 0.5,
        "batch_size": 128, "clip": 5.0, "lr": 1e-3,
        "description": "Melody RNN (basic_rnn layout) re-implemented and trained by Antiphon: continues a "
                       "monophonic melody, one 16th-note step per event, in C (the runtime transposes).",
        "why": WHY_THIS_SIZE_BASIC,
    },
    "lookback": {
        "name": "melody_lookback", "family": "melody", "hidden": 128, "layers": 2, "attn": 0, "dropout": 0.3,
        "batch_size": 128, "clip": 5.0, "lr": 2e-3,
        "description": "Melody RNN (lookback_rnn layout) re-implemented and trained by Antiphon: the input also "
                       "shows the events 1 and 2 bars back and the position in the bar, and two extra classes "
                       "repeat the event of 1 or 2 bars ago, so phrases come back in bar-long units.",
        "why": "Magenta's lookback_rnn configuration (2 LSTM layers of 128 units). The 121-wide input costs "
               "no more than the one-hot per step in the first layer's matrix product, so it trains at the "
               "basic model's speed on 2 CPU cores; a larger stack would not converge in the time budget. Dropout "
               "0.3 and learning rate 2e-3 (Magenta: 0.5, 1e-3) because the budget buys fewer epochs than the "
               "basic model had (it shared the CPU with other trainings).",
    },
    "attention": {
        "name": "melody_attention", "family": "melody", "hidden": 128, "layers": 2, "attn": 40, "dropout": 0.3,
        "batch_size": 32, "clip": 3.0, "lr": 2e-3,
        "description": "Melody RNN (attention_rnn layout) re-implemented and trained by Antiphon: key-aware "
                       "input features (KeyMelody) and attention over the first layer's last 40 outputs.",
        "why": "Magenta's attention_rnn configuration: 2 LSTM layers of 128 units, attention length 40. The "
               "attention cell runs step by step (its input depends on the previous step's attention), "
               "about 15 times slower to train than a plain stack on CPU, so the size stays at the config's "
               "and the budget buys a few epochs; for the same reason dropout 0.3, learning rate 2e-3 and batch 32 "
               "(Magenta: 0.5, 1e-3, 128): a first run with batch 128 made only about 6 updates a minute and "
               "was still at the unigram level after 260 of them.",
    },
    "drum_kit": {
        "name": "drums_kit", "family": "drums", "hidden": 256, "layers": 2, "attn": 0, "dropout": 0.5,
        "batch_size": 16, "clip": 3.0, "lr": 2e-3,
        "description": "Drums RNN (drum_kit encoding) re-implemented and trained by Antiphon on the Groove MIDI "
                       "Dataset: 9 kit pieces, 512 combinations per 16th-note step, General MIDI pitches on "
                       "channel 10.",
        "why": "Magenta's drum_kit config is 3 LSTM layers of 256 with attention 32. On 2 CPU cores the "
               "attention cell trains about 15 times slower than a plain stack, so this model keeps the "
               "256-unit width (the 512-way output needs it) with 2 plain layers, which fits the training "
               "split (about 0.3 M steps) in the time budget many times over. Batch 16 and learning rate 2e-3 (Magenta: "
               "128, 1e-3) because the split has only about 640 segments: larger batches give too few updates "
               "in the budget.",
    },
    "improv": {
        "name": "improv_chord_pitches", "family": "improv", "hidden": 128, "layers": 2, "attn": 0,
        "dropout": 0.5, "batch_size": 128, "clip": 3.0, "lr": 1e-3,
        "description": "Improv RNN (chord_pitches_improv encoding) re-implemented and trained by Antiphon on the "
                       "Nottingham tunes in all 12 keys: a melody over given chords; each step's input is the "
                       "chord of the next step (root, pitch classes, bass) and the melody event.",
        "why": "Magenta's chord_pitches_improv config is 3 LSTM layers of 256. The Nottingham set in 12 keys is "
               "about 5 M steps of folk tunes; 2 layers of 128 units pass over it several times within the "
               "budget on 2 CPU cores, where a 3x256 stack (about 7 times the compute) would see it once.",
    },
}

KINDS["polyphony"] = {
    "name": "polyphony_bach", "family": "polyphony", "hidden": 256, "layers": 2, "attn": 0, "dropout": 0.3,
    "batch_size": 16, "clip": 3.0, "lr": 2e-3,
    "description": "Polyphony RNN (BachBot-style event stream) re-implemented and trained by Antiphon on the JSB "
                   "Bach chorales: per 16th-note step the sounding notes from high to low, each new or "
                   "continued, then STEP_END. Continues a polyphonic primer or harmonises a melody.",
    "why": "Magenta's polyphony config is 3 LSTM layers of 256. The training split in 9 keys is about 2.4 M "
           "events; 2 layers of 256 (the width the 259-way output needs) pass over it several times in the "
           "budget on 2 shared CPU cores, a third layer would cost half the passes. Batch 16, learning rate "
           "2e-3, dropout 0.3 (Magenta: 64, 1e-3, 0.5) because there are only about 2,000 long sequences.",
}
KINDS["performance"] = {
    "name": "performance_groove", "family": "performance", "hidden": 256, "layers": 2, "attn": 0,
    "dropout": 0.3, "batch_size": 16, "clip": 3.0, "lr": 2e-3,
    "description": "Performance RNN with dynamics (388 events: note-on, note-off, 10 ms time shifts, 32 "
                   "velocity bins) re-implemented and trained by Antiphon on the Groove MIDI Dataset: human "
                   "drummers' timing and dynamics, so it plays drums (General MIDI pitches, channel 10) with "
                   "expressive timing. No expressive piano data was available: it was trained on drums only.",
    "why": "Magenta's performance config is 3 LSTM layers of 512. The Groove training split is about 5 M events "
           "in 30-second windows (with the 0.95 and 1.05 time stretches); 2 layers of 256 make a few passes in "
           "the budget on 2 shared CPU cores, where 3x512 (about 6 times the compute) would make less than one.",
}

KIND_DEFAULT = {"melody": "basic", "drums": "drum_kit", "improv": "improv", "polyphony": "polyphony",
                "performance": "performance"}


# --------------------------------------------------------------------------------------------
# Data preparation


def prepare_data(args, kind: str, codec: features.Codec) -> Dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ts = datasets.build(kind, args.data, Path(args.cache), Path(args.groove), Path(args.nottingham),
                        jsb=Path(args.jsb))
    folders = datasets.write_eval_midi(kind, ts.segments, work)
    datasets.check_eval_midi(kind, ts.segments, folders)
    sequences = {}
    for name, segs in ts.segments.items():
        seqs = []
        for seg in segs:
            events = datasets.events_of(kind, seg)
            chords = datasets.chords_per_step(seg.chords, len(events)) if kind == "improv" else None
            seqs.append(codec.encode(events, chords))
        sequences[name] = seqs
    for name, c in ts.counts.items():
        log(f"[data] {name}: {c['tunes']} pieces, {c['segments']} segments, {c['steps']} steps -> "
            f"{folders[name]}/NNNNN.mid")
    if not sequences["train"] or not sequences["valid"]:
        raise SystemExit("need at least one training and one validation segment; give more data")
    with open(work / "dataset.json", "w") as f:
        json.dump({"counts": ts.counts, "encoding": codec.encoding_json(),
                   "midi": {k: str(v) for k, v in folders.items()}, "data": args.data or ts.sources}, f, indent=1)
    log(f"[data] ready in {time.time() - t0:.0f}s")
    return {"counts": ts.counts, "sequences": sequences, "folders": folders, "sources": ts.sources}


# --------------------------------------------------------------------------------------------
# Torch parts


def make_batch(seqs: Sequence[features.Encoded], input_size: int):
    import torch

    from .export import dense_batch

    x, y = dense_batch(seqs, input_size)
    return torch.from_numpy(x), torch.from_numpy(y)


def length_batches(seqs: Sequence[features.Encoded], batch_size: int, rng: random.Random) -> List[List[int]]:
    """Indices grouped into batches of similar length (little padding), in random order."""
    order = sorted((i for i in range(len(seqs)) if seqs[i].rows > 0),
                   key=lambda i: seqs[i].rows + rng.uniform(0, 16))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return groups


def baselines(train: Sequence[features.Encoded], seqs: Sequence[features.Encoded], num_classes: int) -> Dict:
    """Unigram (the split's own add-one-smoothed class frequencies) and bigram (add-one smoothed
    P(y_t | y_{t-1}) counted on the training split) NLL per step of `seqs`' predictions."""
    C = num_classes
    counts = np.zeros(C, np.int64)
    pairs = np.zeros((C, C), np.int64)
    for s in train:
        lab = np.frombuffer(s.labels, np.int16).astype(np.int64)
        np.add.at(pairs, (lab[:-1], lab[1:]), 1)
    total, n, big = 0, 0, 0.0
    cond = np.log(pairs + 1) - np.log(pairs.sum(1, keepdims=True) + C)
    for s in seqs:
        lab = np.frombuffer(s.labels, np.int16).astype(np.int64)
        np.add.at(counts, lab[1:], 1)
        big -= float(cond[lab[:-1], lab[1:]].sum())
        n += len(lab) - 1
    unigram = -sum(int(k) * math.log((int(k) + 1) / (n + C)) for k in counts if k) / max(n, 1)
    return {"unigram_nll_per_step": unigram, "bigram_nll_per_step": big / max(n, 1)}


def evaluate(model, seqs: Sequence[features.Encoded], train: Sequence[features.Encoded],
             batch_size: int = 128, frame_class: Optional[int] = None) -> Dict:
    """CONTRACT.md evaluation: T-1 predictions per sequence from the zero state."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total, correct, count = 0.0, 0, 0
    order = sorted((i for i in range(len(seqs)) if seqs[i].rows > 0), key=lambda i: seqs[i].rows)
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            x, y = make_batch([seqs[i] for i in order[b:b + batch_size]], model.input_size)
            logits, _ = model(x)
            logits = logits.double()
            mask = y != -100
            total += float(F.cross_entropy(logits[mask], y[mask], reduction="sum"))
            correct += int((logits[mask].argmax(-1) == y[mask]).sum())
            count += int(mask.sum())
    out = {"nll_per_step": total / max(count, 1), "steps": count, "accuracy": correct / max(count, 1),
           **baselines(train, seqs, model.num_classes)}
    if frame_class is not None:  # polyphony: NLL per 16th-note frame (one STEP_END per frame)
        frames = sum(int((np.frombuffer(seqs[i].labels, np.int16) == frame_class).sum()) for i in order)
        out["frames"] = frames
        out["nll_per_frame"] = total / max(frames, 1)
    return out


def train(args) -> None:
    import torch

    from . import export
    from .model import SeqModel

    kind = args.model or KIND_DEFAULT[args.family]
    spec = KINDS[kind]
    if spec["family"] != args.family:
        raise SystemExit(f"model {kind!r} belongs to family {spec['family']!r}, not {args.family!r}")
    for key in ("hidden", "layers", "attn", "dropout", "batch_size", "clip", "lr"):
        if getattr(args, key) is None:
            setattr(args, key, spec[key])
    torch.set_num_threads(args.threads)
    codec = features.codec_for(kind)
    C, F_in = codec.num_classes, codec.input_size
    frame_class = 2 if kind == "polyphony" else None  # STEP_END
    if kind == "performance" and args.data:
        codec.params["drums"] = False  # your own performances play on your channel, not GM drums
    work = Path(args.work)
    ckpt_dir = work / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare_data(args, kind, codec)
    train_seqs, valid_seqs = prepared["sequences"]["train"], prepared["sequences"]["valid"]

    hp = {"kind": kind, "layers": [args.hidden] * args.layers, "attention_length": args.attn,
          "dropout": args.dropout, "batch_size": args.batch_size,
          "learning_rate": args.lr, "optimizer": "Adam", "clip_norm": args.clip, "seed": args.seed,
          "max_epochs": args.epochs, "max_minutes": args.max_minutes, "patience_evals": args.patience,
          "eval_every_batches": args.eval_every, "loss": "mean softmax cross-entropy over non-padded steps"}
    torch.manual_seed(args.seed)
    model = SeqModel(F_in, C, hidden=args.hidden, layers=args.layers, dropout=args.dropout,
                     attn_length=args.attn)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = random.Random(args.seed)
    state = {"epoch": 0, "batch": 0, "groups": None, "global_step": 0, "best_nll": float("inf"),
             "best_step": 0, "bad_evals": 0, "train_seconds": 0.0, "cpu_seconds": 0.0, "history": []}
    last = ckpt_dir / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, weights_only=False)
        for key in ("kind", "layers", "attention_length"):
            if ck["hparams"].get(key) != hp[key]:
                raise SystemExit(f"{last} has {key} {ck['hparams'].get(key)}, not {hp[key]}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state = ck["state"]
        rng.setstate(ck["py_rng"])
        torch.set_rng_state(ck["torch_rng"])
        log(f"[train] resumed from {last}: epoch {state['epoch']}, batch {state['batch']}, "
            f"best valid nll {state['best_nll']:.4f}, {fmt_secs(state['train_seconds'])} trained so far")
    else:
        if args.resume:
            log(f"[train] --resume: no checkpoint at {last}, starting fresh")
        for stale in (last, ckpt_dir / "best.pt"):  # a fresh run must not pick up an older best
            if stale.exists():
                stale.unlink()

    def save(path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state,
                    "py_rng": rng.getstate(), "torch_rng": torch.get_rng_state(), "hparams": hp}, tmp)
        tmp.replace(path)

    state.setdefault("invocations", []).append(
        {"argv": sys.argv[1:], "started": datetime.datetime.now().isoformat(timespec="seconds"),
         "at_step": state["global_step"]})
    budget = args.max_minutes * 60.0
    n_params = model.num_parameters()
    log(f"[train] {spec['name']}: {n_params} parameters; {len(train_seqs)} train / {len(valid_seqs)} valid "
        f"sequences; {args.threads} threads; budget {args.max_minutes} min, at most {args.epochs} epochs")
    seg_start_wall, seg_start_cpu = time.time(), time.process_time()
    base_train, base_cpu = state["train_seconds"], state["cpu_seconds"]

    def elapsed() -> float:
        return base_train + time.time() - seg_start_wall

    def validate() -> bool:
        """Evaluate, keep the best, checkpoint. Returns True when training should stop early."""
        ev = evaluate(model, valid_seqs, train_seqs, frame_class=frame_class)
        state["train_seconds"] = elapsed()
        state["cpu_seconds"] = base_cpu + time.process_time() - seg_start_cpu
        improved = ev["nll_per_step"] < state["best_nll"] - 1e-4
        if improved:
            state["best_nll"], state["best_step"], state["bad_evals"] = ev["nll_per_step"], state["global_step"], 0
            torch.save({"model": model.state_dict(), "hparams": hp, "step": state["global_step"]},
                       ckpt_dir / "best.pt")
        else:
            state["bad_evals"] += 1
        state["history"].append({"step": state["global_step"], "epoch": state["epoch"],
                                 "minutes": round(state["train_seconds"] / 60, 2), **ev})
        save(last)
        note = " *best*" if improved else f" (no gain {state['bad_evals']}/{args.patience})"
        log(f"[valid] step {state['global_step']} epoch {state['epoch']}: nll {ev['nll_per_step']:.4f} "
            f"acc {ev['accuracy']:.3f} (unigram {ev['unigram_nll_per_step']:.4f}, "
            f"bigram {ev['bigram_nll_per_step']:.4f}){note}")
        model.train()
        return state["bad_evals"] >= args.patience

    stop = None
    model.train()
    window_t, window_batches, window_steps, window_loss = time.time(), 0, 0, 0.0
    last_log = time.time()
    try:
        while stop is None:
            if state["epoch"] >= args.epochs:
                stop = f"{args.epochs} epochs done"
                break
            if state["groups"] is None:
                state["groups"] = length_batches(train_seqs, args.batch_size, rng)
                state["batch"] = 0
            groups = state["groups"]
            while state["batch"] < len(groups):
                x, y = make_batch([train_seqs[i] for i in groups[state["batch"]]], F_in)
                logits, _ = model(x)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, C), y.reshape(-1), ignore_index=-100)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                opt.step()
                state["batch"] += 1
                state["global_step"] += 1
                window_batches += 1
                window_steps += int((y != -100).sum())
                window_loss += loss.item()
                now = time.time()
                if now - last_log >= args.log_seconds:
                    rate = window_batches / (now - window_t)
                    left_epoch = (len(groups) - state["batch"]) / max(rate, 1e-9)
                    done = state["batch"] / len(groups)
                    bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
                    log(f"[train] epoch {state['epoch'] + 1} [{bar}] batch {state['batch']}/{len(groups)} | "
                        f"{window_steps / (now - window_t):.0f} steps/s | "
                        f"loss {window_loss / window_batches:.4f} | epoch ETA {fmt_secs(left_epoch)} | "
                        f"trained {fmt_secs(elapsed())}, budget left {fmt_secs(budget - elapsed())}")
                    window_t, window_batches, window_steps, window_loss = now, 0, 0, 0.0
                    last_log = now
                if args.eval_every and state["global_step"] % args.eval_every == 0:
                    if validate():
                        stop = f"no validation gain in {args.patience} evaluations"
                        break
                if elapsed() >= budget:
                    stop = f"time budget of {args.max_minutes} min reached"
                    break
            if stop is None:
                state["epoch"] += 1
                state["groups"] = None
                if validate():
                    stop = f"no validation gain in {args.patience} evaluations"
        if stop.startswith("time budget") and (not state["history"]
                                               or state["history"][-1]["step"] != state["global_step"]):
            validate()  # the weights of the last batches count too
    except KeyboardInterrupt:
        stop = "interrupted"
    state["train_seconds"] = elapsed()
    state["cpu_seconds"] = base_cpu + time.process_time() - seg_start_cpu
    save(last)
    log(f"[train] stopped: {stop}; {fmt_secs(state['train_seconds'])} of training, "
        f"best valid nll {state['best_nll']:.4f} at step {state['best_step']}")
    if stop == "interrupted":
        raise SystemExit(130)

    best = ckpt_dir / "best.pt"
    if best.exists():
        model.load_state_dict(torch.load(best, weights_only=False)["model"])
    model.eval()
    log("[eval] evaluating the best model on both splits")
    ev_valid = evaluate(model, valid_seqs, train_seqs, frame_class=frame_class)
    ev_train = evaluate(model, train_seqs, train_seqs, frame_class=frame_class)
    log(f"[eval] valid {json.dumps(ev_valid)}")
    log(f"[eval] train {json.dumps(ev_train)}")

    counts = prepared["counts"]
    if args.data:
        training_data = [{"name": f"user MIDI files ({args.data})", "source": str(args.data),
                          "license": "the user's own files", "pieces": counts["train"]["tunes"],
                          "steps": counts["train"]["steps"]}]
    elif prepared["sources"] == ["music21"]:
        training_data = [{**LICENSES[k]} for k in data_mod.MUSIC21_COLLECTIONS]
    else:
        training_data = [{**LICENSES[prepared["sources"][0]]}]
    for entry in training_data[:1]:
        entry.update({"pieces": counts["train"]["tunes"], "segments": counts["train"]["segments"],
                      "steps": counts["train"]["steps"], "valid_pieces": counts["valid"]["tunes"],
                      "valid_segments": counts["valid"]["segments"], "valid_steps": counts["valid"]["steps"]})
    cmd = ["cargo", "xtask", "train", "--family", args.family, "--model", kind] + \
        (["--data", args.data] if args.data else []) + ["--out", args.out]
    segmentation = {
        "polyphony": "each chorale whole (START ... END); training split in 9 keys (-4..+4 semitones), "
                     "validation split as written. A pitch in consecutive 16th frames is one held note (the "
                     "frames do not tell a re-strike from a hold). Validation = the JSB valid split.",
        "performance": "each Groove file's notes (every channel; drums) in windows of 30 s by onset, each from "
                       "its first note; at least 8 notes; training windows also at 0.95 and 1.05 time stretch. "
                       "Validation = Groove's validation split.",
        "drum_kit": "drum notes (all known GM drum pitches) split at silent gaps > 16 steps, from the bar line "
                    "before the first hit, cut into chunks of <= 512 steps at bar lines, kept if >= 112 steps. "
                    "Validation = Groove's validation split.",
        "improv": "monophonic top line split at silent gaps >= 16 steps, chunks <= 512 steps, kept if >= 112 "
                  "steps and >= 3 distinct pitches; each segment in 12 transpositions (-5..+6 semitones, chord "
                  "symbols moved with it); ABC repeats not expanded. Validation = tunes whose "
                  "sha256(identity) mod 100 < 10.",
    }.get(kind, "monophonic line (CONTRACT.md step 1) split at silent gaps >= 16 steps, cut into chunks of "
                "<= 512 steps at note boundaries, kept if >= 112 steps and >= 5 distinct pitches; "
                + ("each segment starts at the bar line before its first note (the score's first full bar "
                   "from its measures, so pickups count); " if kind in ("lookback", "attention") else
                   "first note moved to step 0; ")
                + "ABC: ties stripped, grace notes and chord symbols dropped, chords -> highest note, repeats "
                  "not expanded. Validation = tunes whose sha256(identity) mod 100 < 10.")
    card = {
        "name": spec["name"],
        "description": spec["description"],
        "architecture": (f"{args.layers}-layer LSTM, {args.hidden} units"
                         + (f", Magenta attention cell on layer 0 over the last {args.attn} outputs" if args.attn else "")
                         + f", dropout {args.dropout} on every layer output in training, linear to {C} classes; "
                           f"input {F_in} wide; {n_params} parameters"),
        "why_this_size": spec["why"],
        "training_data": training_data,
        "data_splits": counts,
        "segmentation": segmentation,
        "training_command": " ".join(shlex.quote(c) for c in cmd),
        "python_command": "PYTHONPATH=models/python python3 -m antiphon_train " +
                          " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "invocations": state.get("invocations", []),
        "hyperparameters": {**hp, "best_step": state["best_step"], "steps_trained": state["global_step"],
                            "epochs_completed": state["epoch"]},
        "evaluation": {"valid": ev_valid, "train": ev_train,
                       "method": "CONTRACT.md: T-1 predictions per segment from the zero state; nats; unigram = "
                                 "-(1/N) sum_t log((n_y_t + 1) / (N + classes)) with n counted over the same "
                                 "split's N predicted labels; bigram = add-one smoothed P(y_t | y_t-1) counted "
                                 "on the training split"},
        "training_history": state["history"],
        "trained_on": f"{args.threads} CPU threads (2 shared cores, nice 19), "
                      f"{state['train_seconds'] / 60:.1f} minutes wall, {state['cpu_seconds'] / 60:.1f} "
                      f"CPU-minutes of training; torch {torch.__version__}, {platform.processor() or platform.machine()}",
        "date": datetime.date.today().isoformat(),
    }
    meta = export.metadata(spec["family"], codec.encoding_json(), card)
    proto = export.build_onnx(model, meta)
    nbytes = export.save_onnx(proto, args.out)
    log(f"[export] wrote {args.out} ({nbytes} bytes)")
    diffs = export.verify_onnx(args.out, model, family=spec["family"])
    log(f"[verify] ONNX checks passed: {json.dumps(diffs)}")
    ort_valid = export.onnx_nll(args.out, valid_seqs, C)
    log(f"[verify] ONNX Runtime on valid: {json.dumps(ort_valid)}")
    if abs(ort_valid["nll_per_step"] - ev_valid["nll_per_step"]) > 1e-4 or ort_valid["steps"] != ev_valid["steps"]:
        raise SystemExit("ONNX Runtime's validation NLL differs from PyTorch's")
    summary = {"out": str(args.out), "bytes": nbytes, "parameters": n_params, "valid": ev_valid,
               "train": ev_train, "onnx_valid": ort_valid, "verify": diffs, "counts": counts,
               "train_minutes": state["train_seconds"] / 60, "cpu_minutes": state["cpu_seconds"] / 60,
               "stop": stop}
    with open(work / "summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    log(f"[done] summary in {work / 'summary.json'}")
