"""ONNX export checks; skipped when torch, onnx or onnxruntime are not installed."""

import importlib.util
import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

HAVE_STACK = all(importlib.util.find_spec(m) for m in ("torch", "onnx", "onnxruntime", "numpy"))
ONNX_DIR = HERE.parent.parent / "onnx"
SHIPPED = sorted(p for p in ONNX_DIR.glob("*.onnx") if p.stat().st_size > 0) if ONNX_DIR.exists() else []
FAMILY_OF_ENCODING = {"melody_onehot": "melody", "melody_lookback": "melody", "key_melody": "melody",
                      "drum_kit": "drums", "chord_melody": "improv", "polyphony": "polyphony",
                      "performance": "performance", "pianoroll_nade": "pianoroll"}


@unittest.skipUnless(HAVE_STACK, "torch, onnx, onnxruntime and numpy are needed")
class Export(unittest.TestCase):
    def make_model(self, kind="basic", seed=3, hidden=32):
        import torch

        from antiphon_train import features
        from antiphon_train.model import SeqModel

        codec = features.codec_for(kind)
        torch.manual_seed(seed)
        m = SeqModel(codec.input_size, codec.num_classes, hidden=hidden, layers=2,
                     attn_length=8 if kind == "attention" else 0)
        with torch.no_grad():  # move off the initialisation so every weight matters
            for p in m.parameters():
                p.add_(0.2 * torch.randn_like(p))
        return m.eval(), codec

    def export(self, model, codec, d):
        from antiphon_train import export

        path = os.path.join(d, "m.onnx")
        export.save_onnx(export.build_onnx(model, export.metadata(codec.family, codec.encoding_json(),
                                                                  {"name": "test"})), path)
        return path

    def sequences(self, codec, n=30, seed=0):
        import random

        from antiphon_train import encoding as mel

        rng = random.Random(seed)
        out = []
        for _ in range(n):
            length = rng.randint(2, 50)
            if codec.family == "drums":
                events = [rng.randrange(512) for _ in range(length)]
            else:
                events = [rng.choice([mel.NO_EVENT, mel.NOTE_OFF, rng.randrange(48, 84)]) for _ in range(length)]
            chords = [None] * length if codec.family == "improv" else None
            out.append(codec.encode(events, chords))
        return out

    def test_every_kind_exports_passes_verification_and_matches_torch_nll(self):
        from antiphon_train import export
        from antiphon_train.train import evaluate

        for kind in ("basic", "lookback", "attention", "drum_kit", "improv"):
            with self.subTest(kind=kind):
                model, codec = self.make_model(kind)
                seqs = self.sequences(codec)
                with tempfile.TemporaryDirectory() as d:
                    path = self.export(model, codec, d)
                    diffs = export.verify_onnx(path, model, family=codec.family)
                    self.assertLess(diffs["one_call_vs_steps"], 1e-4)
                    ours = export.onnx_nll(path, seqs, codec.num_classes, batch=7)
                ref = evaluate(model, seqs, seqs)
                self.assertEqual(ours["steps"], ref["steps"])
                self.assertAlmostEqual(ours["nll_per_step"], ref["nll_per_step"], places=4)
                self.assertAlmostEqual(ours["accuracy"], ref["accuracy"], places=6)

    def test_verification_catches_wrong_weights(self):
        import torch

        from antiphon_train import export

        for kind, param in (("basic", "lstm.weight_hh_l1"), ("attention", "attn_v")):
            with self.subTest(kind=kind):
                model, codec = self.make_model(kind)
                with tempfile.TemporaryDirectory() as d:
                    path = self.export(model, codec, d)
                    with torch.no_grad():
                        dict(model.named_parameters())[param].view(-1)[0] += 0.5
                    with self.assertRaises(export.VerificationError):
                        export.verify_onnx(path, model)

    def test_graph_ops_and_contract_metadata(self):
        import onnx

        for kind, op, count in (("basic", "LSTM", 2), ("attention", "Scan", 1)):
            with self.subTest(kind=kind):
                model, codec = self.make_model(kind)
                with tempfile.TemporaryDirectory() as d:
                    m = onnx.load(self.export(model, codec, d))
                ops = [n.op_type for n in m.graph.node]
                self.assertEqual(ops.count(op), count)
                props = {p.key: p.value for p in m.metadata_props}
                self.assertEqual(props["antiphon.contract"], "1")
                self.assertEqual(props["antiphon.family"], codec.family)
                self.assertEqual(json.loads(props["antiphon.encoding"])["name"], codec.encoding_json()["name"])

    @unittest.skipUnless(SHIPPED, "no shipped models")
    def test_int8_quantization_keeps_the_contract_and_the_predictions(self):
        import numpy as np
        import onnx

        from antiphon_train import export
        from antiphon_train.quantize import quantize_int8

        model, codec = self.make_model("basic", hidden=64)
        seqs = self.sequences(codec)
        with tempfile.TemporaryDirectory() as d:
            path = self.export(model, codec, d)
            out = os.path.join(d, "m.int8.onnx")
            entry = quantize_int8(path, out)
            float_nll = export.onnx_nll(path, seqs, codec.num_classes, batch=7)
            int8_nll = export.onnx_nll(out, seqs, codec.num_classes, batch=7)
            q = onnx.load(out)
            ops = {n.op_type for n in q.graph.node}
            props = {p.key: p.value for p in q.metadata_props}
            with self.assertRaises(ValueError):
                quantize_int8(out, os.path.join(d, "twice.onnx"))
            # Then the LSTMs and the projection run on int8 weights, a quarter of the bytes
            self.assertIn("DynamicQuantizeLSTM", ops)
            self.assertNotIn("LSTM", ops)
            self.assertLess(os.path.getsize(out), 0.4 * os.path.getsize(path))
            # and the contract's metadata is the float model's, the card telling where it came from
            self.assertEqual(sorted(props), ["antiphon.card", "antiphon.contract", "antiphon.encoding",
                                             "antiphon.family"])
            card = json.loads(props["antiphon.card"])
            self.assertEqual(card["quantization"], entry)
            self.assertEqual(entry["from"], "m.onnx")
        # and the predictions barely move: same steps, NLL within 1 %
        self.assertEqual(int8_nll["steps"], float_nll["steps"])
        self.assertTrue(np.isfinite(int8_nll["nll_per_step"]))
        self.assertAlmostEqual(int8_nll["nll_per_step"], float_nll["nll_per_step"],
                               delta=0.01 * float_nll["nll_per_step"])

    def test_shipped_models_follow_the_contract_and_beat_their_baselines(self):
        import numpy as np
        import onnxruntime as ort

        for path in SHIPPED:
            with self.subTest(model=path.name):
                sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                meta = sess.get_modelmeta().custom_metadata_map
                enc = json.loads(meta["antiphon.encoding"])
                card = json.loads(meta["antiphon.card"])
                self.assertEqual(meta["antiphon.family"], FAMILY_OF_ENCODING[enc["name"]])
                valid = card["evaluation"]["valid"]
                if enc["name"] == "pianoroll_nade":
                    # NADE: nats per frame against independent keys, and the constant weights.
                    self.assertLess(valid["nll_per_frame"], valid["independent_keys_nll_per_frame"])
                    shape = [o.shape for o in sess.get_outputs() if o.name == "nade_weights"]
                    self.assertEqual(shape, [[2, enc["num_keys"], enc["nade_hidden"]]])
                    continue
                for key in ("nll_per_step", "steps", "unigram_nll_per_step", "accuracy"):
                    self.assertIn(key, valid)
                # A model that learnt anything beats the context-free baselines.
                self.assertLess(valid["nll_per_step"], valid["unigram_nll_per_step"])
                if "bigram_nll_per_step" in valid:
                    self.assertLess(valid["nll_per_step"], valid["bigram_nll_per_step"])
                width = sess.get_inputs()[0].shape[2]
                feed = {"inputs": np.zeros((8, 6, width), np.float32)}
                feed["inputs"][:, :, 0] = 1.0
                for i in sess.get_inputs()[1:]:
                    feed[i.name] = np.zeros((8, i.shape[1]), np.float32)
                logits = sess.run(["logits"], feed)[0]
                self.assertEqual(logits.shape[:2], (8, 6))
                self.assertTrue(np.isfinite(logits).all())


if __name__ == "__main__":
    unittest.main()
