"""Export a trained :class:`~antiphon_train.model.SeqModel` to an ONNX file that follows
models/CONTRACT.md, and verify it.

The graph is written directly with `onnx.helper` rather than traced: one ONNX `LSTM` op per plain
layer, weights re-ordered from PyTorch's gate order (i, f, g, o) to ONNX's (i, o, f, c). ONNX
Runtime's LSTM kernel wants time-major input (layout 0), so the graph transposes in and out.

    inputs [B,T,F] -> Transpose -> LSTM_0 (state_in.0 = c0, state_in.1 = h0) -> Squeeze
                   -> LSTM_1 (state_in.2, state_in.3) -> Squeeze -> Transpose -> MatMul + Add -> logits
    state_out.{2k} = Y_c of layer k, state_out.{2k+1} = Y_h of layer k

A model with an attention-wrapped first layer runs that layer as a `Scan` over time whose body is
the attention cell written out (LSTM gates, query, scores, softmax, context, output projection,
window shift); its state is `state_in.0/1` (c, h), `state_in.{2L}` (attns) and `state_in.{2L+1}`
(the window, [B, N·A]). The layers above are `LSTM` ops as before.

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


def _attention_scan(sd: Dict[str, np.ndarray], F: int, H: int, N: int, const) -> onnx.GraphProto:
    """The Scan body of the attention-wrapped first layer (weights are outer-scope initializers)."""
    const("att_W1", sd["attn_in.weight"].T.copy())
    const("att_b1", sd["attn_in.bias"])
    const("att_Wih", sd["cell0.weight_ih"].T.copy())
    const("att_Whh", sd["cell0.weight_hh"].T.copy())
    const("att_b", sd["cell0.bias_ih"] + sd["cell0.bias_hh"])
    const("att_W3", sd["attn_query.weight"].T.copy())
    const("att_b3", sd["attn_query.bias"])
    const("att_Wk", sd["attn_w.weight"].T.copy())
    const("att_v", sd["attn_v"].reshape(H, 1))
    const("att_W2", sd["attn_out.weight"].T.copy())
    const("att_b2", sd["attn_out.bias"])
    const("att_split", np.array([H, H, H, H], dtype=np.int64))
    const("att_win_shape", np.array([-1, N, H], dtype=np.int64))
    const("att_flat_shape", np.array([-1, N * H], dtype=np.int64))
    const("att_one", np.array([1], dtype=np.int64))
    const("att_n", np.array([N], dtype=np.int64))
    const("att_ax1", np.array([1], dtype=np.int64))
    const("att_ax2", np.array([2], dtype=np.int64))
    n = helper.make_node
    nodes = [
        n("Concat", ["b_x", "b_attns"], ["b_xa"], axis=1),
        n("MatMul", ["b_xa", "att_W1"], ["b_xp0"]),
        n("Add", ["b_xp0", "att_b1"], ["b_xp"]),
        n("MatMul", ["b_xp", "att_Wih"], ["b_gx"]),
        n("MatMul", ["b_h", "att_Whh"], ["b_gh"]),
        n("Add", ["b_gx", "b_gh"], ["b_g0"]),
        n("Add", ["b_g0", "att_b"], ["b_g"]),
        n("Split", ["b_g", "att_split"], ["b_gi", "b_gf", "b_gg", "b_go"], axis=1),
        n("Sigmoid", ["b_gi"], ["b_i"]),
        n("Sigmoid", ["b_gf"], ["b_f"]),
        n("Tanh", ["b_gg"], ["b_gt"]),
        n("Sigmoid", ["b_go"], ["b_o"]),
        n("Mul", ["b_f", "b_c"], ["b_fc"]),
        n("Mul", ["b_i", "b_gt"], ["b_ig"]),
        n("Add", ["b_fc", "b_ig"], ["b_c_new"]),
        n("Tanh", ["b_c_new"], ["b_tc"]),
        n("Mul", ["b_o", "b_tc"], ["b_h_new"]),
        n("Concat", ["b_c_new", "b_h_new"], ["b_ch"], axis=1),
        n("MatMul", ["b_ch", "att_W3"], ["b_q0"]),
        n("Add", ["b_q0", "att_b3"], ["b_q"]),
        n("Reshape", ["b_win", "att_win_shape"], ["b_win3"]),
        n("MatMul", ["b_win3", "att_Wk"], ["b_k"]),
        n("Unsqueeze", ["b_q", "att_ax1"], ["b_q3"]),
        n("Add", ["b_k", "b_q3"], ["b_kq"]),
        n("Tanh", ["b_kq"], ["b_e"]),
        n("MatMul", ["b_e", "att_v"], ["b_s3"]),
        n("Squeeze", ["b_s3", "att_ax2"], ["b_s"]),
        n("Softmax", ["b_s"], ["b_a"], axis=1),
        n("Unsqueeze", ["b_a", "att_ax1"], ["b_a3"]),
        n("MatMul", ["b_a3", "b_win3"], ["b_ctx3"]),
        n("Squeeze", ["b_ctx3", "att_ax1"], ["b_attns_new"]),
        n("Concat", ["b_h_new", "b_attns_new"], ["b_ha"], axis=1),
        n("MatMul", ["b_ha", "att_W2"], ["b_out0"]),
        n("Add", ["b_out0", "att_b2"], ["b_out"]),
        n("Slice", ["b_win3", "att_one", "att_n", "att_ax1"], ["b_win_tail"]),
        n("Unsqueeze", ["b_out", "att_ax1"], ["b_out3"]),
        n("Concat", ["b_win_tail", "b_out3"], ["b_win_new3"], axis=1),
        n("Reshape", ["b_win_new3", "att_flat_shape"], ["b_win_new"]),
        n("Identity", ["b_out"], ["b_y"]),
    ]
    f = TensorProto.FLOAT
    vi = helper.make_tensor_value_info
    inputs = [vi("b_c", f, ["batch", H]), vi("b_h", f, ["batch", H]), vi("b_attns", f, ["batch", H]),
              vi("b_win", f, ["batch", N * H]), vi("b_x", f, ["batch", F])]
    outputs = [vi("b_c_new", f, ["batch", H]), vi("b_h_new", f, ["batch", H]),
               vi("b_attns_new", f, ["batch", H]), vi("b_win_new", f, ["batch", N * H]),
               vi("b_y", f, ["batch", H])]
    return helper.make_graph(nodes, "attention_cell", inputs, outputs)


def build_onnx(model, metadata: Dict[str, str],
               constant_outputs: Optional[Dict[str, np.ndarray]] = None) -> onnx.ModelProto:
    """The contract graph of `model`; `constant_outputs` adds outputs that are fixed tensors
    (the Pianoroll NADE's weights, `nade_weights`)."""
    import torch  # noqa: F401  (the model is a torch module)

    H, C, L, F, N = model.hidden, model.num_classes, model.layers, model.input_size, model.attn_length
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits: List[onnx.TensorProto] = []
    nodes: List[onnx.NodeProto] = []

    def const(name: str, arr) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    axes0 = const("axes_0", np.array([0], dtype=np.int64))
    axes1 = const("axes_1", np.array([1], dtype=np.int64))
    first_plain = 0
    if N:
        body = _attention_scan(sd, F, H, N, const)
        nodes.append(helper.make_node(
            "Scan", ["state_in.0", "state_in.1", f"state_in.{2 * L}", f"state_in.{2 * L + 1}", "inputs"],
            ["state_out.0", "state_out.1", f"state_out.{2 * L}", f"state_out.{2 * L + 1}", "att_y"],
            body=body, num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[0], name="attention_layer0"))
        x = "att_y"  # time-major [T, B, H]
        first_plain = 1
    else:
        nodes.append(helper.make_node("Transpose", ["inputs"], ["x_tbc"], perm=[1, 0, 2], name="to_time_major"))
        x = "x_tbc"
    for k in range(first_plain, L):
        j = k - first_plain  # index inside the torch nn.LSTM
        w = _onnx_gate_order(sd[f"lstm.weight_ih_l{j}"], H)[None]
        r = _onnx_gate_order(sd[f"lstm.weight_hh_l{j}"], H)[None]
        b = np.concatenate([_onnx_gate_order(sd[f"lstm.bias_ih_l{j}"], H),
                            _onnx_gate_order(sd[f"lstm.bias_hh_l{j}"], H)])[None]
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

    inputs = [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, ["batch", "time", F])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "time", C])]
    for k, size in enumerate(model.state_sizes()):
        inputs.append(helper.make_tensor_value_info(f"state_in.{k}", TensorProto.FLOAT, ["batch", size]))
        outputs.append(helper.make_tensor_value_info(f"state_out.{k}", TensorProto.FLOAT, ["batch", size]))
    for name, arr in (constant_outputs or {}).items():
        arr = np.asarray(arr, dtype=np.float32)
        const(f"{name}_value", arr)
        nodes.append(helper.make_node("Identity", [f"{name}_value"], [name], name=f"{name}_out"))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(arr.shape)))
    graph = helper.make_graph(nodes, "event_rnn", inputs, outputs, initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="antiphon_train", producer_version="0.2.0")
    m.ir_version = IR_VERSION
    m.doc_string = "Antiphon event-RNN model; see metadata antiphon.card"
    helper.set_model_props(m, metadata)
    onnx.checker.check_model(m, full_check=True)
    return m


def metadata(family: str, encoding_json: dict, card: dict) -> Dict[str, str]:
    return {
        "antiphon.contract": CONTRACT_VERSION,
        "antiphon.family": family,
        "antiphon.encoding": json.dumps(encoding_json, separators=(",", ":")),
        "antiphon.card": json.dumps(card, separators=(",", ":"), ensure_ascii=False),
    }


def melody_metadata(encoding_json: dict, card: dict) -> Dict[str, str]:
    return metadata("melody", encoding_json, card)


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


def verify_onnx(path, model, tol: float = 1e-4, seed: int = 0, family: Optional[str] = None,
                constant_outputs: Optional[Dict[str, Sequence[int]]] = None) -> Dict[str, float]:
    """Checks every exported model must pass; raises VerificationError otherwise.

    (0) metadata and graph signature follow the contract;
    (a) one call over a sequence == step-by-step calls carrying state_out -> state_in;
    (b) batch 1 and batch 8 both run (and batch rows are independent);
    (c) ONNX logits and final states == PyTorch's (eval mode), from zero and from random states,
        within |onnx - torch| < tol + tol * |torch| (float32 sums run in another order).
    Inputs are random rows of -1/0/+1 entries (a superset of every encoding's rows).
    Returns the largest differences seen.
    """
    import torch

    m = onnx.load(str(path))
    props = {p.key: p.value for p in m.metadata_props}
    for key in ("antiphon.contract", "antiphon.family", "antiphon.encoding", "antiphon.card"):
        if key not in props:
            raise VerificationError(f"metadata {key} missing")
    if props["antiphon.contract"] != CONTRACT_VERSION:
        raise VerificationError("wrong contract version")
    if family is not None and props["antiphon.family"] != family:
        raise VerificationError(f"family {props['antiphon.family']!r}, want {family!r}")
    json.loads(props["antiphon.encoding"])
    json.loads(props["antiphon.card"])
    F, C = model.input_size, model.num_classes
    sizes = model.state_sizes()
    S = len(sizes)

    sess = _session(path)
    ins = {i.name: i for i in sess.get_inputs()}
    outs = {o.name: o for o in sess.get_outputs()}
    want_in = {"inputs": ["batch", "time", F], **{f"state_in.{k}": ["batch", n] for k, n in enumerate(sizes)}}
    want_out = {"logits": ["batch", "time", C], **{f"state_out.{k}": ["batch", n] for k, n in enumerate(sizes)},
                **{name: list(shape) for name, shape in (constant_outputs or {}).items()}}
    for want, got in ((want_in, ins), (want_out, outs)):
        if set(want) != set(got):
            raise VerificationError(f"graph names {sorted(got)} != {sorted(want)}")
        for name, shape in want.items():
            if list(got[name].shape) != shape or got[name].type != "tensor(float)":
                raise VerificationError(f"{name}: {got[name].type} {got[name].shape}, want float {shape}")

    rng = np.random.default_rng(seed)
    model = model.eval()
    diffs = {"one_call_vs_steps": 0.0, "onnx_vs_torch": 0.0, "batch_rows": 0.0}

    def rows(batch, time):
        return rng.choice(np.array([-1.0, 0.0, 0.0, 0.0, 1.0], np.float32), size=(batch, time, F))

    for batch, time, random_state in ((1, 37, False), (8, 23, False), (8, 16, True), (1, 1, True)):
        x = rows(batch, time)
        if random_state:
            states = [rng.normal(0, 0.5, size=(batch, n)).astype(np.float32) for n in sizes]
        else:
            states = [np.zeros((batch, n), np.float32) for n in sizes]
        logits, final = _run(sess, x, states)
        if logits.shape != (batch, time, C) or any(s.shape != (batch, n) for s, n in zip(final, sizes)):
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
            tl, tflat = model(torch.from_numpy(x), [torch.from_numpy(s) for s in states])
        # float32 sums in a different order: compare like numpy.allclose(rtol=tol, atol=tol).
        for a, b in [(tl.numpy(), logits)] + [(a.numpy(), b) for a, b in zip(tflat, final)]:
            diffs["onnx_vs_torch"] = max(diffs["onnx_vs_torch"], float(np.abs(a - b).max()))
            excess = float((np.abs(a - b) - tol * np.abs(a)).max())
            diffs["onnx_vs_torch_beyond_rtol"] = max(diffs.get("onnx_vs_torch_beyond_rtol", 0.0), excess)
    for k in ("one_call_vs_steps", "batch_rows", "onnx_vs_torch_beyond_rtol"):
        if not diffs[k] < tol:
            raise VerificationError(f"{k}: max abs diff {diffs[k]:.3g} >= {tol}")
    del S
    return diffs


def onnx_nll(path, sequences: Sequence, num_classes: int, batch: int = 64) -> Dict[str, float]:
    """Contract evaluation with ONNX Runtime: T-1 predictions per sequence from the zero state.

    `sequences` are :class:`~antiphon_train.features.Encoded` (or plain class lists for one-hot
    models whose input width equals `num_classes`)."""
    from .features import Encoded

    sess = _session(path)
    state_inputs = [i for i in sess.get_inputs() if i.name.startswith("state_in.")]
    width = [i for i in sess.get_inputs() if i.name == "inputs"][0].shape[2]
    total, count, correct = 0.0, 0, 0
    seqs = [s for s in sequences if (s.rows if isinstance(s, Encoded) else len(s) - 1) > 0]
    seqs.sort(key=lambda s: s.rows if isinstance(s, Encoded) else len(s))
    for i in range(0, len(seqs), batch):
        group = seqs[i:i + batch]
        x, y = dense_batch(group, width)
        states = {si.name: np.zeros((len(group), si.shape[1]), np.float32) for si in state_inputs}
        logits = sess.run(["logits"], {"inputs": x, **states})[0].astype(np.float64)
        lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        mask = y >= 0
        tgt = np.where(mask, y, 0)
        picked = np.take_along_axis(logits, tgt[..., None], axis=-1)[..., 0]
        total += float(((lse - picked) * mask).sum())
        correct += int(((logits.argmax(-1) == y) & mask).sum())
        count += int(mask.sum())
    return {"nll_per_step": total / max(count, 1), "steps": count, "accuracy": correct / max(count, 1)}


def dense_batch(group: Sequence, width: int):
    """Dense inputs [B, T, width] float32 and targets [B, T] int64 (-100 = padding)."""
    from .features import Encoded

    encs = [s if isinstance(s, Encoded) else _one_hot_encoded(s) for s in group]
    T = max(e.rows for e in encs)
    x = np.zeros((len(encs), T, width), np.float32)
    y = np.full((len(encs), T), -100, np.int64)
    for r, e in enumerate(encs):
        if len(e.row):
            x[r, np.frombuffer(e.row, np.int32), np.frombuffer(e.col, np.int16)] = np.frombuffer(e.val, np.int8)
        y[r, :e.rows] = np.frombuffer(e.labels, np.int16)[1:]
    return x, y


def _one_hot_encoded(classes: Sequence[int]):
    from array import array

    from .features import Encoded

    n = len(classes) - 1
    return Encoded(n, array("i", range(n)), array("h", classes[:-1]), array("b", [1] * n), array("h", classes))
