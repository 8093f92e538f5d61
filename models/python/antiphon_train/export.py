"""Export a trained :class:`MelodyLSTM` to an ONNX file that follows models/CONTRACT.md, and verify it.

The graph is written directly with `onnx.helper` rather than traced: one ONNX `LSTM` op per layer,
weights re-ordered from PyTorch's gate order (i, f, g, o) to ONNX's (i, o, f, c). ONNX Runtime's
LSTM kernel wants time-major input (layout 0), so the graph transposes `[batch, time, ·]` in and out.

    inputs [B,T,C] -> Transpose -> LSTM_0 (state_in.0 = c0, state_in.1 = h0) -> Squeeze
                   -> LSTM_1 (state_in.2, state_in.3) -> Squeeze -> Transpose -> MatMul + Add -> logits
    state_out.{2k} = Y_c of layer k, state_out.{2k+1} = Y_h of layer k

`verify_onnx` runs the checks that every export must pass (see README.md).
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # readable by ONNX Runtime 1.14 and later
CONTRACT_VERSION = "1"


def _onnx_gate_order(w: np.ndarray, hidden: int) -> np.ndarray:
    """PyTorch packs gates as (i, f, g, o) along axis 0; ONNX wants (i, o, f, c=g)."""
    i, f, g, o = (w[k * hidden:(k + 1) * hidden] for k in range(4))
    return np.concatenate([i, o, f, g], axis=0)


def build_onnx(model, metadata: Dict[str, str]) -> onnx.ModelProto:
    import torch  # noqa: F401  (the model is a torch module)

    H, C, L = model.hidden, model.num_classes, model.layers
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits: List[onnx.TensorProto] = []
    nodes: List[onnx.NodeProto] = []

    def const(name: str, arr) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    axes0 = const("axes_0", np.array([0], dtype=np.int64))
    axes1 = const("axes_1", np.array([1], dtype=np.int64))
    nodes.append(helper.make_node("Transpose", ["inputs"], ["x_tbc"], perm=[1, 0, 2], name="to_time_major"))
    x = "x_tbc"
    for k in range(L):
        w = _onnx_gate_order(sd[f"lstm.weight_ih_l{k}"], H)[None]
        r = _onnx_gate_order(sd[f"lstm.weight_hh_l{k}"], H)[None]
        b = np.concatenate([_onnx_gate_order(sd[f"lstm.bias_ih_l{k}"], H),
                            _onnx_gate_order(sd[f"lstm.bias_hh_l{k}"], H)])[None]
        const(f"lstm{k}_W", w)
        const(f"lstm{k}_R", r)
        const(f"lstm{k}_B", b)
        c_in, h_in = f"state_in.{2 * k}", f"state_in.{2 * k + 1}"
        nodes.append(helper.make_node("Unsqueeze", [c_in, axes0], [f"lstm{k}_c0"], name=f"lstm{k}_c0"))
        nodes.append(helper.make_node("Unsqueeze", [h_in, axes0], [f"lstm{k}_h0"], name=f"lstm{k}_h0"))
        nodes.append(helper.make_node(
            "LSTM", [x, f"lstm{k}_W", f"lstm{k}_R", f"lstm{k}_B", "", f"lstm{k}_h0", f"lstm{k}_c0"],
            [f"lstm{k}_Y", f"lstm{k}_Yh", f"lstm{k}_Yc"], hidden_size=H, direction="forward",
            name=f"lstm{k}"))
        nodes.append(helper.make_node("Squeeze", [f"lstm{k}_Y", axes1], [f"lstm{k}_out"], name=f"lstm{k}_out"))
        nodes.append(helper.make_node("Squeeze", [f"lstm{k}_Yc", axes0], [f"state_out.{2 * k}"],
                                      name=f"lstm{k}_c_out"))
        nodes.append(helper.make_node("Squeeze", [f"lstm{k}_Yh", axes0], [f"state_out.{2 * k + 1}"],
                                      name=f"lstm{k}_h_out"))
        x = f"lstm{k}_out"
    const("fc_W", sd["out.weight"].T.copy())
    const("fc_b", sd["out.bias"])
    nodes.append(helper.make_node("Transpose", [x], ["y_bth"], perm=[1, 0, 2], name="to_batch_major"))
    nodes.append(helper.make_node("MatMul", ["y_bth", "fc_W"], ["fc_mm"], name="fc_matmul"))
    nodes.append(helper.make_node("Add", ["fc_mm", "fc_b"], ["logits"], name="fc_bias"))

    inputs = [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, ["batch", "time", C])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "time", C])]
    for k in range(2 * L):
        inputs.append(helper.make_tensor_value_info(f"state_in.{k}", TensorProto.FLOAT, ["batch", H]))
        outputs.append(helper.make_tensor_value_info(f"state_out.{k}", TensorProto.FLOAT, ["batch", H]))
    graph = helper.make_graph(nodes, "melody_rnn", inputs, outputs, initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="antiphon_train", producer_version="0.1.0")
    m.ir_version = IR_VERSION
    m.doc_string = "Antiphon melody model (Melody RNN basic layout); see metadata antiphon.card"
    helper.set_model_props(m, metadata)
    onnx.checker.check_model(m, full_check=True)
    return m


def melody_metadata(encoding_json: dict, card: dict) -> Dict[str, str]:
    return {
        "antiphon.contract": CONTRACT_VERSION,
        "antiphon.family": "melody",
        "antiphon.encoding": json.dumps(encoding_json, separators=(",", ":")),
        "antiphon.card": json.dumps(card, separators=(",", ":"), ensure_ascii=False),
    }


def save_onnx(model_proto: onnx.ModelProto, path) -> int:
    from pathlib import Path

    data = model_proto.SerializeToString()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(p)
    return len(data)


# --------------------------------------------------------------------------------------------
# Verification


class VerificationError(AssertionError):
    pass


def _session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _run(sess, x: np.ndarray, states: Sequence[np.ndarray]):
    feed = {"inputs": x}
    feed.update({f"state_in.{k}": s for k, s in enumerate(states)})
    names = ["logits"] + [f"state_out.{k}" for k in range(len(states))]
    out = sess.run(names, feed)
    return out[0], out[1:]


def verify_onnx(path, model, tol: float = 1e-4, seed: int = 0) -> Dict[str, float]:
    """Checks every exported melody model must pass; raises VerificationError otherwise.

    (0) metadata and graph signature follow the contract;
    (a) one call over a sequence == step-by-step calls carrying state_out -> state_in;
    (b) batch 1 and batch 8 both run (and batch rows are independent);
    (c) ONNX logits and final states == PyTorch's (eval mode), from zero and from random states,
        within |onnx - torch| < tol + tol * |torch| (float32 sums run in another order).
    Returns the largest differences seen.
    """
    import torch

    m = onnx.load(str(path))
    props = {p.key: p.value for p in m.metadata_props}
    for key in ("antiphon.contract", "antiphon.family", "antiphon.encoding", "antiphon.card"):
        if key not in props:
            raise VerificationError(f"metadata {key} missing")
    if props["antiphon.contract"] != CONTRACT_VERSION or props["antiphon.family"] != "melody":
        raise VerificationError("wrong contract version or family")
    enc = json.loads(props["antiphon.encoding"])
    json.loads(props["antiphon.card"])
    C = enc["max_pitch"] - enc["min_pitch"] + 2
    H, L = model.hidden, model.layers

    sess = _session(path)
    ins = {i.name: i for i in sess.get_inputs()}
    outs = {o.name: o for o in sess.get_outputs()}
    want_in = {"inputs": ["batch", "time", C], **{f"state_in.{k}": ["batch", H] for k in range(2 * L)}}
    want_out = {"logits": ["batch", "time", C], **{f"state_out.{k}": ["batch", H] for k in range(2 * L)}}
    for want, got in ((want_in, ins), (want_out, outs)):
        if set(want) != set(got):
            raise VerificationError(f"graph names {sorted(got)} != {sorted(want)}")
        for name, shape in want.items():
            if list(got[name].shape) != shape or got[name].type != "tensor(float)":
                raise VerificationError(f"{name}: {got[name].type} {got[name].shape}, want float {shape}")

    rng = np.random.default_rng(seed)
    model = model.eval()
    diffs = {"one_call_vs_steps": 0.0, "onnx_vs_torch": 0.0, "batch_rows": 0.0}

    def one_hot(batch, time):
        idx = rng.integers(0, C, size=(batch, time))
        return np.eye(C, dtype=np.float32)[idx]

    for batch, time, random_state in ((1, 37, False), (8, 23, False), (8, 16, True), (1, 1, True)):
        x = one_hot(batch, time)
        if random_state:
            states = [rng.normal(0, 0.5, size=(batch, H)).astype(np.float32) for _ in range(2 * L)]
        else:
            states = [np.zeros((batch, H), np.float32) for _ in range(2 * L)]
        logits, final = _run(sess, x, states)
        if logits.shape != (batch, time, C) or any(s.shape != (batch, H) for s in final):
            raise VerificationError(f"output shapes {logits.shape}, {[s.shape for s in final]}")
        # (a) step by step
        st = states
        steps = []
        for t in range(time):
            lt, st = _run(sess, x[:, t:t + 1], st)
            steps.append(lt)
        d = max(float(np.abs(np.concatenate(steps, axis=1) - logits).max()),
                max(float(np.abs(a - b).max()) for a, b in zip(st, final)))
        diffs["one_call_vs_steps"] = max(diffs["one_call_vs_steps"], d)
        # (b) every batch row alone gives the same result as in the batch
        if batch > 1:
            for r in (0, batch - 1):
                lr, fr = _run(sess, x[r:r + 1], [s[r:r + 1] for s in states])
                d = max(float(np.abs(lr - logits[r:r + 1]).max()),
                        max(float(np.abs(a - b[r:r + 1]).max()) for a, b in zip(fr, final)))
                diffs["batch_rows"] = max(diffs["batch_rows"], d)
        # (c) PyTorch
        with torch.no_grad():
            tl, tst = model(torch.from_numpy(x), model.from_contract_state([torch.from_numpy(s) for s in states]))
            tflat = model.contract_state(tst)
        # float32 sums in a different order: compare like numpy.allclose(rtol=tol, atol=tol).
        for a, b in [(tl.numpy(), logits)] + [(a.numpy(), b) for a, b in zip(tflat, final)]:
            diffs["onnx_vs_torch"] = max(diffs["onnx_vs_torch"], float(np.abs(a - b).max()))
            excess = float((np.abs(a - b) - tol * np.abs(a)).max())
            diffs["onnx_vs_torch_beyond_rtol"] = max(diffs.get("onnx_vs_torch_beyond_rtol", 0.0), excess)
    for k in ("one_call_vs_steps", "batch_rows", "onnx_vs_torch_beyond_rtol"):
        if not diffs[k] < tol:
            raise VerificationError(f"{k}: max abs diff {diffs[k]:.3g} >= {tol}")
    return diffs


def onnx_nll(path, sequences: Sequence[Sequence[int]], num_classes: int, batch: int = 64) -> Dict[str, float]:
    """Contract evaluation with ONNX Runtime: T-1 predictions per sequence from the zero state."""
    sess = _session(path)
    n_states = sum(1 for i in sess.get_inputs() if i.name.startswith("state_in."))
    hidden = sess.get_inputs()[1].shape[1]
    eye = np.eye(num_classes, dtype=np.float32)
    total, count, correct = 0.0, 0, 0
    seqs = sorted((list(s) for s in sequences if len(s) > 1), key=len)
    for i in range(0, len(seqs), batch):
        group = seqs[i:i + batch]
        T = max(len(s) for s in group) - 1
        idx = np.zeros((len(group), T), np.int64)
        for r, s in enumerate(group):
            idx[r, :len(s) - 1] = s[:-1]
        states = [np.zeros((len(group), hidden), np.float32) for _ in range(n_states)]
        logits, _ = _run(sess, eye[idx], states)
        logits = logits.astype(np.float64)
        lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        for r, s in enumerate(group):
            tgt = np.asarray(s[1:])
            lr = logits[r, :len(tgt)]
            total += float((lse[r, :len(tgt)] - lr[np.arange(len(tgt)), tgt]).sum())
            correct += int((lr.argmax(-1) == tgt).sum())
            count += len(tgt)
    return {"nll_per_step": total / max(count, 1), "steps": count, "accuracy": correct / max(count, 1)}
