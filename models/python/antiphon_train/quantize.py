"""Int8 weights for an exported model: `python -m antiphon_train.quantize FP32.onnx OUT.onnx`.

A batch-1 step of a 2 x 256 LSTM reads every weight once: 4.5 MB of fp32 that no longer fits a
core's L2 cache, so the step waits on memory. ONNX Runtime's dynamic quantization stores the LSTM
and projection weights as int8 (a quarter of the bytes) and quantizes the activations of each
step on the fly (`DynamicQuantizeLSTM`, `MatMulInteger`); the graph's inputs, outputs, `time`
axis and metadata stay as they were, so the result follows the same model contract.

The card gains a `quantization` entry naming the method and the sha256 of the float model it was
made from; the float model stays the reference (its quality cost is measured with
`cargo xtask eval` on both files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

# The ops whose weights become int8. Other ops (the attention model's Scan, the NADE's
# constant output) keep float weights.
QUANTIZED_OPS = ["LSTM", "MatMul"]

METHOD = ("ONNX Runtime dynamic quantization: int8 weights per tensor (symmetric), activations "
          "quantized per step (DynamicQuantizeLSTM, MatMulInteger)")


def quantize_int8(src: Path, dst: Path) -> dict:
    """Writes the int8 model of `src` to `dst`; returns the card's new `quantization` entry."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .export import save_onnx

    src, dst = Path(src), Path(dst)
    float_model = onnx.load(str(src))
    props = {p.key: p.value for p in float_model.metadata_props}
    if "antiphon.card" not in props:
        raise ValueError(f"{src} has no antiphon.card: not an Antiphon model")
    card = json.loads(props["antiphon.card"])
    if "quantization" in card:
        raise ValueError(f"{src} is already quantized ({card['quantization'].get('weights')})")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8,
                         op_types_to_quantize=QUANTIZED_OPS, per_channel=False)
        model = onnx.load(str(out))
    entry = {
        "weights": "int8",
        "method": METHOD,
        "ops": QUANTIZED_OPS,
        "from": src.name,
        "from_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
    }
    card["quantization"] = entry
    props["antiphon.card"] = json.dumps(card, separators=(",", ":"), ensure_ascii=False)
    # The quantizer adds a marker of its own; the contract's keys are the model's only metadata.
    del model.metadata_props[:]
    for key, value in props.items():
        item = model.metadata_props.add()
        item.key, item.value = key, value
    save_onnx(model, dst)
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m antiphon_train.quantize",
                                description="int8 weights for an exported Antiphon model")
    p.add_argument("src", help="the float model (.onnx) as exported by antiphon_train")
    p.add_argument("dst", help="the int8 model to write")
    a = p.parse_args(argv)
    try:
        entry = quantize_int8(Path(a.src), Path(a.dst))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    before, after = Path(a.src).stat().st_size, Path(a.dst).stat().st_size
    print(f"{a.dst}: {entry['weights']} weights, {after / 1e6:.2f} MB (from {before / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
