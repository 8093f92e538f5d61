"""The Pianoroll RNN-NADE: the vectorised NADE likelihood equals the key-by-key definition, the
probabilities of all frames sum to one, and an export reads back through ONNX Runtime with the
same figure. Skipped without torch, onnx, onnxruntime and numpy."""

import argparse
import importlib.util
import itertools
import json
import math
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

HAVE_STACK = all(importlib.util.find_spec(m) for m in ("torch", "onnx", "onnxruntime", "numpy"))


@unittest.skipUnless(HAVE_STACK, "torch, onnx, onnxruntime and numpy are needed")
class Nade(unittest.TestCase):
    def net(self):
        import torch

        from antiphon_train import nade

        torch.manual_seed(5)
        net = nade.make_net(hidden=16, layers=2, nade_hidden=6, dropout=0.0)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.5 * torch.randn_like(p))
        return net.eval()

    def test_given_biases_when_frames_are_scored_then_it_is_the_key_by_key_product(self):
        import torch

        net = self.net().requires_grad_(False)
        biases = torch.randn(6 + 88)
        v = (torch.rand(88) < 0.1).float()
        with torch.no_grad():
            logits = net.key_logits(biases, v)
        # The definition, one key at a time.
        a = biases[:6].clone()
        for i in range(88):
            h = torch.sigmoid(a)
            want = biases[6 + i] + (net.w_dec_t[i] * h).sum()
            self.assertAlmostEqual(float(logits[i]), float(want), places=4)
            a = a + v[i] * net.w_enc[i]

    def test_given_three_keys_when_every_frame_is_scored_then_the_probabilities_sum_to_one(self):
        import torch

        net = self.net().requires_grad_(False)
        biases = torch.randn(6 + 88)
        total = 0.0
        for bits in itertools.product([0.0, 1.0], repeat=3):
            v = torch.zeros(88)
            v[:3] = torch.tensor(bits)
            logits = net.key_logits(biases, v)[:3]
            total += math.exp(float(-torch.nn.functional.binary_cross_entropy_with_logits(
                logits, v[:3], reduction="sum")))
        self.assertAlmostEqual(total, 1.0, places=5)

    def test_given_a_small_training_run_when_exported_then_onnx_runtime_gives_the_same_figure(self):
        from antiphon_train import nade

        frames = [[[60, 64, 67], [62, 65, 69], [], [60, 64, 67]], [[48], [50, 53]]]
        with tempfile.TemporaryDirectory() as d:
            data = Path(d) / "jsb"
            data.mkdir()
            (data / "jsb-chorales-quarter.train-valid.json").write_text(
                json.dumps({"train": frames * 3, "valid": frames}))
            args = argparse.Namespace(
                jsb=str(data), data=None, work=str(Path(d) / "work"), out=str(Path(d) / "p.onnx"),
                threads=1, seed=1, hidden=16, layers=2, dropout=0.0, lr=1e-2, batch_size=4, clip=5.0,
                nade_hidden=8, epochs=3, patience=5, max_minutes=5.0, resume=False)
            nade.train(args)
            summary = json.loads((Path(d) / "work" / "summary.json").read_text())
            self.assertEqual(summary["valid"]["frames"], 6)
            self.assertAlmostEqual(summary["onnx_valid"]["nll_per_frame"], summary["valid"]["nll_per_frame"],
                                   places=3)


if __name__ == "__main__":
    unittest.main()
