"""Train the melody model on CPU, evaluate it per CONTRACT.md "Evaluation", export and verify the ONNX file."""

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
from typing import Dict, List, Sequence

from . import data as data_mod
from . import encoding

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

WHY_THIS_SIZE = (
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


# --------------------------------------------------------------------------------------------
# Data preparation


def prepare_data(args, enc: encoding.MelodyEncoding) -> Dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if args.data:
        tunes = data_mod.load_midi_tunes(Path(args.data), work)
    else:
        tunes = data_mod.load_music21_tunes(work, workers=2)
    splits = data_mod.build_dataset(tunes)
    counts = data_mod.split_counts(splits)
    folders = data_mod.write_eval_midi(splits, work)
    data_mod.check_eval_midi(splits, folders, enc)
    sequences = {name: [encoding.encode(seg.notes, enc).classes for seg in s["segments"]]
                 for name, s in splits.items()}
    for name, c in counts.items():
        log(f"[data] {name}: {c['tunes']} tunes, {c['segments']} segments, {c['steps']} steps -> "
            f"{folders[name]}/NNNNN.mid")
    if not sequences["train"] or not sequences["valid"]:
        raise SystemExit("need at least one training and one validation segment; give more data")
    with open(work / "dataset.json", "w") as f:
        json.dump({"counts": counts, "encoding": enc.to_json(), "midi": {k: str(v) for k, v in folders.items()},
                   "data": args.data or "music21"}, f, indent=1)
    log(f"[data] ready in {time.time() - t0:.0f}s")
    return {"counts": counts, "sequences": sequences, "folders": folders}


# --------------------------------------------------------------------------------------------
# Torch parts


def make_batch(seqs: Sequence[Sequence[int]], num_classes: int):
    import torch
    import torch.nn.functional as F

    T = max(len(s) for s in seqs) - 1
    x = torch.zeros((len(seqs), T), dtype=torch.long)
    y = torch.full((len(seqs), T), -100, dtype=torch.long)
    for r, s in enumerate(seqs):
        n = len(s) - 1
        x[r, :n] = torch.tensor(s[:-1])
        y[r, :n] = torch.tensor(s[1:])
    return F.one_hot(x, num_classes).float(), y


def length_batches(seqs: Sequence[Sequence[int]], batch_size: int, rng: random.Random) -> List[List[int]]:
    """Indices grouped into batches of similar length (little padding), in random order."""
    order = sorted((i for i in range(len(seqs)) if len(seqs[i]) > 1),
                   key=lambda i: len(seqs[i]) + rng.uniform(0, 16))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return groups


def evaluate(model, seqs: Sequence[Sequence[int]], num_classes: int, batch_size: int = 128) -> Dict:
    """CONTRACT.md evaluation: T-1 predictions per sequence from the zero state."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total, correct, count = 0.0, 0, 0
    counts = [0] * num_classes
    order = sorted((i for i in range(len(seqs)) if len(seqs[i]) > 1), key=lambda i: len(seqs[i]))
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            group = [seqs[i] for i in order[b:b + batch_size]]
            x, y = make_batch(group, num_classes)
            logits, _ = model(x)
            logits = logits.double()
            mask = y != -100
            total += float(F.cross_entropy(logits[mask], y[mask], reduction="sum"))
            correct += int((logits[mask].argmax(-1) == y[mask]).sum())
            count += int(mask.sum())
    for s in seqs:
        for c in s[1:]:
            counts[c] += 1
    unigram = -sum(n * math.log((n + 1) / (count + num_classes)) for n in counts if n) / max(count, 1)
    return {"nll_per_step": total / max(count, 1), "steps": count,
            "unigram_nll_per_step": unigram, "accuracy": correct / max(count, 1)}


def train_melody(args) -> None:
    import torch

    from . import export
    from .model import MelodyLSTM

    torch.set_num_threads(args.threads)
    enc = encoding.MelodyEncoding()
    C = enc.num_classes
    work = Path(args.work)
    ckpt_dir = work / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare_data(args, enc)
    train_seqs, valid_seqs = prepared["sequences"]["train"], prepared["sequences"]["valid"]

    hp = {"layers": [args.hidden] * args.layers, "dropout": args.dropout, "batch_size": args.batch_size,
          "learning_rate": args.lr, "optimizer": "Adam", "clip_norm": args.clip, "seed": args.seed,
          "max_epochs": args.epochs, "max_minutes": args.max_minutes, "patience_evals": args.patience,
          "eval_every_batches": args.eval_every, "loss": "mean softmax cross-entropy over non-padded steps",
          "segments": {"gap_steps": data_mod.GAP_STEPS, "min_steps": data_mod.MIN_STEPS,
                       "max_steps": data_mod.MAX_STEPS, "min_distinct_pitches": data_mod.MIN_DISTINCT_PITCHES,
                       "valid_percent": data_mod.VALID_PERCENT}}
    torch.manual_seed(args.seed)
    model = MelodyLSTM(num_classes=C, hidden=args.hidden, layers=args.layers, dropout=args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = random.Random(args.seed)
    state = {"epoch": 0, "batch": 0, "groups": None, "global_step": 0, "best_nll": float("inf"),
             "best_step": 0, "bad_evals": 0, "train_seconds": 0.0, "cpu_seconds": 0.0, "history": []}
    last = ckpt_dir / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, weights_only=False)
        if ck["hparams"]["layers"] != hp["layers"]:
            raise SystemExit(f"{last} has layers {ck['hparams']['layers']}, not {hp['layers']}")
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
    log(f"[train] model: {n_params} parameters; {len(train_seqs)} train / {len(valid_seqs)} valid sequences; "
        f"{args.threads} threads; budget {args.max_minutes} min, at most {args.epochs} epochs")
    seg_start_wall, seg_start_cpu = time.time(), time.process_time()
    base_train, base_cpu = state["train_seconds"], state["cpu_seconds"]

    def elapsed() -> float:
        return base_train + time.time() - seg_start_wall

    def validate() -> bool:
        """Evaluate, keep the best, checkpoint. Returns True when training should stop early."""
        ev = evaluate(model, valid_seqs, C)
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
            f"acc {ev['accuracy']:.3f} (unigram {ev['unigram_nll_per_step']:.4f}){note}")
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
                x, y = make_batch([train_seqs[i] for i in groups[state["batch"]]], C)
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
                    # (windows may span an epoch end and a validation: rates are conservative)
                    left_epoch = (len(groups) - state["batch"]) / max(rate, 1e-9)
                    log(f"[train] epoch {state['epoch'] + 1} batch {state['batch']}/{len(groups)} | "
                        f"{rate:.2f} batch/s, {window_steps / (now - window_t):.0f} steps/s | "
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
    ev_valid = evaluate(model, valid_seqs, C)
    ev_train = evaluate(model, train_seqs, C)
    log(f"[eval] valid {json.dumps(ev_valid)}")
    log(f"[eval] train {json.dumps(ev_train)}")

    counts = prepared["counts"]
    if args.data:
        training_data = [{"name": f"user MIDI files ({args.data})", "source": str(args.data),
                          "license": "the user's own files", "pieces": counts["train"]["tunes"],
                          "steps": counts["train"]["steps"]}]
    else:
        training_data = []
        for key in data_mod.MUSIC21_COLLECTIONS:
            tr = counts["train"]["by_source"].get(key, {"tunes": 0, "segments": 0, "steps": 0})
            va = counts["valid"]["by_source"].get(key, {"tunes": 0, "segments": 0, "steps": 0})
            training_data.append({**LICENSES[key], "pieces": tr["tunes"], "segments": tr["segments"],
                                  "steps": tr["steps"], "valid_pieces": va["tunes"],
                                  "valid_segments": va["segments"], "valid_steps": va["steps"]})
    cmd = ["cargo", "xtask", "train", "--family", "melody"] + (["--data", args.data] if args.data else []) + \
        ["--out", args.out]
    card = {
        "name": "melody_basic",
        "description": "Melody RNN (basic_rnn layout) re-implemented and trained by Antiphon: continues a "
                       "monophonic melody, one 16th-note step per event, in C (the runtime transposes).",
        "architecture": f"{args.layers}-layer LSTM, {args.hidden} units, dropout {args.dropout} on every layer "
                        f"output in training, linear to {C} classes; {n_params} parameters",
        "why_this_size": WHY_THIS_SIZE,
        "training_data": training_data,
        "data_splits": counts,
        "segmentation": "monophonic line (CONTRACT.md step 1) split at silent gaps >= 16 steps, cut into "
                        "chunks of <= 512 steps at note boundaries, kept if >= 112 steps and >= 5 distinct "
                        "pitches; first note moved to step 0. ABC: ties stripped, grace notes and chord "
                        "symbols dropped, chords -> highest note, repeats not expanded. Validation = tunes "
                        "whose sha256(identity) mod 100 < 10.",
        "training_command": " ".join(shlex.quote(c) for c in cmd),
        "python_command": "PYTHONPATH=models/python python3 -m antiphon_train " +
                          " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "invocations": state.get("invocations", []),
        "hyperparameters": {**hp, "best_step": state["best_step"], "steps_trained": state["global_step"],
                            "epochs_completed": state["epoch"]},
        "evaluation": {"valid": ev_valid, "train": ev_train,
                       "method": "CONTRACT.md: T-1 predictions per segment from the zero state; nats; unigram = "
                                 "-(1/N) sum_t log((n_y_t + 1) / (N + classes)) with n counted over the same "
                                 "split's N predicted events"},
        "training_history": state["history"],
        "trained_on": f"{args.threads} CPU threads (2 shared cores, nice 19), "
                      f"{state['train_seconds'] / 60:.1f} minutes wall, {state['cpu_seconds'] / 60:.1f} "
                      f"CPU-minutes of training; torch {torch.__version__}, {platform.processor() or platform.machine()}",
        "date": datetime.date.today().isoformat(),
    }
    meta = export.melody_metadata(enc.to_json(), card)
    proto = export.build_onnx(model, meta)
    nbytes = export.save_onnx(proto, args.out)
    log(f"[export] wrote {args.out} ({nbytes} bytes)")
    diffs = export.verify_onnx(args.out, model)
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
