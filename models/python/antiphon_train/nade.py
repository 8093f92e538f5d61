"""Pianoroll RNN-NADE: an LSTM over 88-key piano-roll frames whose output, at each step, gives the
biases of a NADE (neural autoregressive distribution estimator) over the next frame.

Facts (shared/reference/magenta-models.md; Boulanger-Lewandowski et al. 2012): the frame is 88
binary keys (MIDI 21..108). The NADE factorises P(v) over the keys from low to high:
``a_0 = b_enc``, ``h_i = sigmoid(a_i)``, ``P(v_i = 1 | v_<i) = sigmoid(b_dec_i + W_dec_i · h_i)``,
``a_{i+1} = a_i + v_i W_enc_i``. The RNN's output at step t sets ``b_enc`` and ``b_dec`` for the
frame at t + 1; ``W_enc`` and ``W_dec`` are shared by all steps.

In the contract (CONTRACT.md, ``pianoroll_nade``): the graph's ``logits`` output carries the
biases ``[b_enc (nade_hidden) ; b_dec (88)]`` per step, and a constant output ``nade_weights``
``[2, 88, nade_hidden]`` holds ``W_enc`` (row i = key i) and ``W_dec`` transposed (row i = key
i's decoder weights). Every sequence starts with an empty frame, so the model predicts every real
frame from the zero state; sampling runs key by key in Rust.

The figure is the validation NLL in nats per frame on JSB at one frame per quarter note, the
figure Boulanger-Lewandowski et al. report on the same split (RNN-NADE 5.56 with SGD, 5.19 with
Hessian-free optimisation).
"""

from __future__ import annotations

import datetime
import json
import math
import platform
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

MIN_PITCH = 21
NUM_KEYS = 88
STEPS_PER_QUARTER = 1
#: Training split also in these keys (semitones; pieces that would leave 21..108 are skipped).
TRANSPOSITIONS = tuple(range(-4, 5))

WHY = ("Magenta's pianoroll_rnn_nade config: 3 LSTM layers of 128 units and a NADE of 128 hidden units "
       "(dropout keep 0.5, Adam 1e-3). The JSB training split is small (229 chorales, about 14,000 "
       "quarter-note frames, 9 keys here), so this size trains to its best validation figure in minutes on "
       "2 CPU cores; larger models only overfit sooner.")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def frames_matrix(frames: Sequence[Sequence[int]], transpose: int = 0):
    """[1 + T, 88] float32: an empty start frame, then the piece's frames shifted by `transpose`;
    None when a pitch leaves 21..108."""
    x = np.zeros((len(frames) + 1, NUM_KEYS), np.float32)
    for t, frame in enumerate(frames):
        for p in frame:
            k = int(p) + transpose - MIN_PITCH
            if not 0 <= k < NUM_KEYS:
                return None
            x[t + 1, k] = 1.0
    return x


def load_splits(jsb_quarter: Path) -> Dict[str, List[np.ndarray]]:
    with open(jsb_quarter) as f:
        parsed = json.load(f)
    out: Dict[str, List[np.ndarray]] = {"train": [], "valid": []}
    for name in out:
        for frames in parsed[name]:
            shifts = TRANSPOSITIONS if name == "train" else (0,)
            for t in shifts:
                x = frames_matrix(frames, t)
                if x is not None and len(x) > 1:
                    out[name].append(x)
    return out


def key_frequency_nll(train: Sequence[np.ndarray], seqs: Sequence[np.ndarray]) -> float:
    """Baseline: independent keys with add-one-smoothed on-frequencies of the training split, NLL
    per frame of `seqs`."""
    on = sum(x[1:].sum(0) for x in train)
    n = sum(len(x) - 1 for x in train)
    p = (on + 1) / (n + 2)
    total, frames = 0.0, 0
    for x in seqs:
        v = x[1:]
        total -= float((v * np.log(p) + (1 - v) * np.log(1 - p)).sum())
        frames += len(v)
    return total / max(frames, 1)


def make_net(hidden: int, layers: int, nade_hidden: int, dropout: float):
    import torch
    from torch import nn

    from .model import SeqModel

    class NadeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.nade_hidden = nade_hidden
            self.rnn = SeqModel(NUM_KEYS, nade_hidden + NUM_KEYS, hidden=hidden, layers=layers, dropout=dropout)
            self.w_enc = nn.Parameter(torch.randn(NUM_KEYS, nade_hidden) * 0.01)
            self.w_dec_t = nn.Parameter(torch.randn(NUM_KEYS, nade_hidden) * 0.01)

        def key_logits(self, biases, v):
            """Logits of P(v_i = 1 | v_<i) for frames `v` [..., 88] under `biases` [..., Hn + 88]."""
            hn = self.nade_hidden
            b_enc, b_dec = biases[..., :hn], biases[..., hn:]
            contrib = v[..., :, None] * self.w_enc  # [..., 88, Hn]
            a = b_enc[..., None, :] + torch.cumsum(contrib, dim=-2) - contrib
            return b_dec + (torch.sigmoid(a) * self.w_dec_t).sum(-1)

        def frame_nll(self, x, lengths):
            """NLL of every real frame (rows 1.. of each padded sequence) [B, T-1] and its mask."""
            biases, _ = self.rnn(x[:, :-1])
            v = x[:, 1:]
            logits = self.key_logits(biases, v)
            nll = nn.functional.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)
            steps = torch.arange(v.shape[1])[None, :]
            mask = steps < (lengths[:, None] - 1)
            return nll, mask

    return NadeNet()


def batches(seqs: Sequence[np.ndarray], batch_size: int, rng: random.Random) -> List[List[int]]:
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]) + rng.uniform(0, 8))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return groups


def pad(seqs: Sequence[np.ndarray]):
    import torch

    T = max(len(s) for s in seqs)
    x = np.zeros((len(seqs), T, NUM_KEYS), np.float32)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
    return torch.from_numpy(x), torch.tensor([len(s) for s in seqs])


def evaluate(net, seqs: Sequence[np.ndarray], batch_size: int = 64) -> Dict:
    import torch

    net.eval()
    total, frames = 0.0, 0
    with torch.no_grad():
        for b in range(0, len(seqs), batch_size):
            x, lengths = pad(seqs[b:b + batch_size])
            nll, mask = net.frame_nll(x, lengths)
            total += float(nll.double()[mask].sum())
            frames += int(mask.sum())
    return {"nll_per_frame": total / max(frames, 1), "frames": frames}


def onnx_frame_nll(path, seqs: Sequence[np.ndarray]) -> Dict:
    """The same figure through ONNX Runtime: biases from the graph, the NADE from `nade_weights`."""
    from .export import _session

    sess = _session(path)
    names = [o.name for o in sess.get_outputs()]
    states = [i for i in sess.get_inputs() if i.name.startswith("state_in.")]
    total, frames = 0.0, 0
    w = None
    for x in seqs:
        feed = {"inputs": x[None, :-1]}
        feed.update({s.name: np.zeros((1, s.shape[1]), np.float32) for s in states})
        out = dict(zip(names, sess.run(names, feed)))
        w = out["nade_weights"].astype(np.float64)
        biases = out["logits"][0].astype(np.float64)
        hn = w.shape[2]
        for t in range(len(x) - 1):
            a = biases[t, :hn].copy()
            v = x[t + 1]
            for i in range(NUM_KEYS):
                h = 1 / (1 + np.exp(-a))
                logit = biases[t, hn + i] + float(w[1, i] @ h)
                # -log sigmoid(+-logit), stably
                z = logit if v[i] > 0.5 else -logit
                total += max(-z, 0) + math.log1p(math.exp(-abs(z)))
                if v[i] > 0.5:
                    a += w[0, i]
            frames += 1
    return {"nll_per_frame": total / max(frames, 1), "frames": frames}


def train(args) -> None:
    import torch

    from . import export

    if args.data:
        raise SystemExit("pianoroll trains on the JSB chorales' piano-roll frames (--jsb DIR); --data (MIDI "
                         "files) is not supported for this family yet")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    hidden = args.hidden or 128
    layers = args.layers or 3
    dropout = 0.5 if args.dropout is None else args.dropout
    lr = args.lr or 1e-3
    batch_size = args.batch_size or 32
    clip = args.clip or 5.0
    jsb = Path(args.jsb) / "jsb-chorales-quarter.train-valid.json"
    splits = load_splits(jsb)
    train_seqs, valid_seqs = splits["train"], splits["valid"]
    counts = {name: {"pieces": len(s), "frames": int(sum(len(x) - 1 for x in s))} for name, s in splits.items()}
    log(f"[data] {jsb}: train {counts['train']} (9 keys), valid {counts['valid']}")
    net = make_net(hidden, layers, args.nade_hidden, dropout)
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    work = Path(args.work)
    (work / "checkpoints").mkdir(parents=True, exist_ok=True)
    best_path = work / "checkpoints" / "best.pt"
    baseline = key_frequency_nll(train_seqs, valid_seqs)
    log(f"[train] pianoroll_nade: {n_params} parameters; baseline (independent keys) {baseline:.4f} nats/frame")
    t0, cpu0 = time.time(), time.process_time()
    best, bad, epoch, step, history = float("inf"), 0, 0, 0, []
    before_minutes, before_cpu = 0.0, 0.0
    if args.resume and best_path.exists():
        ck = torch.load(best_path, weights_only=False)
        net.load_state_dict(ck["model"])
        history = ck.get("history", [])
        epoch, step = ck["epoch"], ck.get("step", 0)
        before_minutes, before_cpu = ck.get("minutes", 0.0), ck.get("cpu_minutes", 0.0)
        best = evaluate(net, valid_seqs)["nll_per_frame"]
        log(f"[train] resumed from {best_path}: epoch {epoch}, valid {best:.4f} nats/frame")
    elif best_path.exists():
        best_path.unlink()  # a fresh run must not pick up an older best
    budget_epochs = epoch + args.epochs
    stop = f"{args.epochs} epochs done"
    while epoch < budget_epochs:
        net.train()
        loss_sum, n = 0.0, 0
        for group in batches(train_seqs, batch_size, rng):
            x, lengths = pad([train_seqs[i] for i in group])
            nll, mask = net.frame_nll(x, lengths)
            loss = nll[mask].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
            loss_sum += float(loss.detach())
            n += 1
            step += 1
        epoch += 1
        ev = evaluate(net, valid_seqs)
        minutes = (time.time() - t0) / 60
        total_minutes = before_minutes + minutes
        history.append({"epoch": epoch, "step": step, "minutes": round(total_minutes, 2), "train_loss": loss_sum / n, **ev})
        if ev["nll_per_frame"] < best - 1e-4:
            best, bad = ev["nll_per_frame"], 0
            torch.save({"model": net.state_dict(), "epoch": epoch, "step": step, "history": history,
                        "minutes": total_minutes,
                        "cpu_minutes": before_cpu + (time.process_time() - cpu0) / 60}, best_path)
            note = " *best*"
        else:
            bad += 1
            note = f" (no gain {bad}/{args.patience})"
        log(f"[valid] epoch {epoch} ({minutes:.1f} min): train loss {loss_sum / n:.4f}, valid "
            f"{ev['nll_per_frame']:.4f} nats/frame{note}")
        if bad >= args.patience:
            stop = f"no validation gain in {args.patience} epochs"
            break
        if minutes >= args.max_minutes:
            stop = f"time budget of {args.max_minutes} min reached"
            break
    train_minutes = before_minutes + (time.time() - t0) / 60
    cpu_minutes = before_cpu + (time.process_time() - cpu0) / 60
    net.load_state_dict(torch.load(best_path, weights_only=False)["model"])
    ev_valid = evaluate(net, valid_seqs)
    ev_train = evaluate(net, [x for x in train_seqs])
    ev_valid["independent_keys_nll_per_frame"] = baseline
    log(f"[eval] stopped: {stop}; valid {json.dumps(ev_valid)}; train {json.dumps(ev_train)}")

    encoding = {"name": "pianoroll_nade", "min_pitch": MIN_PITCH, "num_keys": NUM_KEYS,
                "nade_hidden": args.nade_hidden, "steps_per_quarter": STEPS_PER_QUARTER}
    cmd = ["cargo", "xtask", "train", "--family", "pianoroll", "--out", args.out]
    card = {
        "name": "pianoroll_nade_bach",
        "description": "Pianoroll RNN-NADE re-implemented and trained by Antiphon on the JSB Bach chorales at one "
                       "frame per quarter note: an LSTM over 88-key frames gives the biases of a NADE that "
                       "samples the next frame key by key (low to high).",
        "architecture": f"{layers}-layer LSTM, {hidden} units, dropout {dropout}; linear to the NADE biases "
                        f"({args.nade_hidden} encoder + 88 decoder); NADE of {args.nade_hidden} hidden units; "
                        f"{n_params} parameters",
        "why_this_size": WHY,
        "training_data": [{"name": "JSB Chorales, piano-roll frames (Boulanger-Lewandowski et al. 2012 split)",
                           "source": str(jsb) + " (train split, quarter-note frames, in 9 keys -4..+4)",
                           "license": "Public-domain music (J. S. Bach); no license stated for the encoding",
                           **{f"train_{k}": v for k, v in counts["train"].items()},
                           **{f"valid_{k}": v for k, v in counts["valid"].items()}}],
        "training_command": " ".join(shlex.quote(c) for c in cmd),
        "python_command": "PYTHONPATH=models/python python3 -m antiphon_train " +
                          " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "hyperparameters": {"layers": [hidden] * layers, "nade_hidden": args.nade_hidden, "dropout": dropout,
                            "batch_size": batch_size, "learning_rate": lr, "optimizer": "Adam", "clip_norm": clip,
                            "seed": args.seed, "transpositions": list(TRANSPOSITIONS), "epochs": epoch,
                            "loss": "NADE negative log-likelihood per frame (sum over 88 keys)"},
        "evaluation": {"valid": ev_valid, "train": ev_train,
                       "method": "nats per quarter-note frame, every frame of every validation chorale predicted "
                                 "from the zero state after an empty start frame; the figure of "
                                 "Boulanger-Lewandowski et al. (2012): RNN-NADE 5.56 (SGD), 5.19 (Hessian-free); "
                                 "baseline: independent keys with the training split's frequencies"},
        "training_history": history,
        "invocations": [a for a in sys.argv[1:]],
        "trained_on": f"{args.threads} CPU threads (2 shared cores, nice 19), {train_minutes:.1f} minutes wall, "
                      f"{cpu_minutes:.1f} CPU-minutes; torch {torch.__version__}, "
                      f"{platform.processor() or platform.machine()}",
        "date": datetime.date.today().isoformat(),
    }
    meta = export.metadata("pianoroll", encoding, card)
    weights = np.stack([net.w_enc.detach().numpy(), net.w_dec_t.detach().numpy()])
    proto = export.build_onnx(net.rnn, meta, {"nade_weights": weights})
    nbytes = export.save_onnx(proto, args.out)
    log(f"[export] wrote {args.out} ({nbytes} bytes)")
    diffs = export.verify_onnx(args.out, net.rnn, family="pianoroll",
                               constant_outputs={"nade_weights": weights.shape})
    log(f"[verify] ONNX checks passed: {json.dumps(diffs)}")
    ort_valid = onnx_frame_nll(args.out, valid_seqs)
    log(f"[verify] ONNX Runtime on valid: {json.dumps(ort_valid)}")
    if abs(ort_valid["nll_per_frame"] - ev_valid["nll_per_frame"]) > 1e-3:
        raise SystemExit("ONNX Runtime's validation NLL differs from PyTorch's")
    with open(work / "summary.json", "w") as f:
        json.dump({"out": str(args.out), "bytes": nbytes, "parameters": n_params, "valid": ev_valid,
                   "train": ev_train, "onnx_valid": ort_valid, "train_minutes": train_minutes, "stop": stop}, f,
                  indent=1)
    log(f"[done] summary in {work / 'summary.json'}")
