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
SHIPPED = HERE.parent.parent / "onnx" / "melody_basic.onnx"


@unittest.skipUnless(HAVE_STACK, "torch, onnx, onnxruntime and numpy are needed")
class Export(unittest.TestCase):
    def make_model(self, seed=3):
        import torch

        from antiphon_train.model import MelodyLSTM

        torch.manual_seed(seed)
        m = MelodyLSTM()
        with torch.no_grad():  # move off the initialisation so every weight matters
            for p in m.parameters():
                p.add_(0.2 * torch.randn_like(p))
        return m.eval()

    def export(self, model, d):
        from antiphon_train import export
        from antiphon_train.encoding import MelodyEncoding

        path = os.path.join(d, "m.onnx")
        export.save_onnx(export.build_onnx(model, export.melody_metadata(MelodyEncoding().to_json(),
                                                                         {"name": "test"})), path)
        return path

    def test_export_passes_verification_and_matches_torch_nll(self):
        import random

        from antiphon_train import export
        from antiphon_train.train import evaluate

        model = self.make_model()
        rng = random.Random(0)
        seqs = [[rng.randrange(38) for _ in range(rng.randint(2, 60))] for _ in range(40)]
        with tempfile.TemporaryDirectory() as d:
            path = self.export(model, d)
            diffs = export.verify_onnx(path, model)
            self.assertLess(diffs["one_call_vs_steps"], 1e-4)
            ours = export.onnx_nll(path, seqs, 38, batch=7)
        ref = evaluate(model, seqs, 38)
        self.assertEqual(ours["steps"], ref["steps"])
        self.assertAlmostEqual(ours["nll_per_step"], ref["nll_per_step"], places=4)
        self.assertAlmostEqual(ours["accuracy"], ref["accuracy"], places=6)

    def test_verification_catches_wrong_weights(self):
        import torch

        from antiphon_train import export

        model = self.make_model()
        with tempfile.TemporaryDirectory() as d:
            path = self.export(model, d)
            with torch.no_grad():
                model.lstm.weight_hh_l1[0, 0] += 0.5
            with self.assertRaises(export.VerificationError):
                export.verify_onnx(path, model)

    def test_graph_uses_onnx_lstm_and_contract_metadata(self):
        import onnx

        from antiphon_train import export

        with tempfile.TemporaryDirectory() as d:
            path = self.export(self.make_model(), d)
            m = onnx.load(path)
        ops = [n.op_type for n in m.graph.node]
        self.assertEqual(ops.count("LSTM"), 2)
        props = {p.key: p.value for p in m.metadata_props}
        self.assertEqual(props["antiphon.contract"], "1")
        self.assertEqual(props["antiphon.family"], "melody")
        self.assertEqual(json.loads(props["antiphon.encoding"])["name"], "melody_onehot")

    @unittest.skipUnless(SHIPPED.exists() and SHIPPED.stat().st_size > 0, "no shipped model")
    def test_shipped_model_follows_the_contract(self):
        import numpy as np
        import onnxruntime as ort

        sess = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
        meta = sess.get_modelmeta().custom_metadata_map
        enc = json.loads(meta["antiphon.encoding"])
        card = json.loads(meta["antiphon.card"])
        self.assertEqual(meta["antiphon.family"], "melody")
        self.assertEqual(enc, {"name": "melody_onehot", "min_pitch": 48, "max_pitch": 84,
                               "steps_per_quarter": 4, "transpose_to_key": 0})
        for key in ("nll_per_step", "steps", "unigram_nll_per_step", "accuracy"):
            self.assertIn(key, card["evaluation"]["valid"])
        # A model that learnt anything beats the context-free baseline.
        self.assertLess(card["evaluation"]["valid"]["nll_per_step"], card["evaluation"]["valid"]["unigram_nll_per_step"])
        feed = {"inputs": np.eye(38, dtype=np.float32)[[[2, 0, 0, 0, 6, 0]] * 8]}
        feed.update({f"state_in.{k}": np.zeros((8, 128), np.float32) for k in range(4)})
        logits = sess.run(["logits"], feed)[0]
        self.assertEqual(logits.shape, (8, 6, 38))
        self.assertTrue(np.isfinite(logits).all())


if __name__ == "__main__":
    unittest.main()
