"""The Melody RNN "basic_rnn" network in PyTorch: LSTM stack -> dropout -> linear.

Magenta's layout (facts, see shared/reference/magenta-models.md): a stack of LSTM layers with
dropout on every layer's output during training only, then one dense layer to the class logits.
TF's BasicLSTMCell adds a forget-gate bias of 1.0 at run time; here the same 1.0 starts in the
(trainable) forget bias instead, so the exported graph needs no run-time constant.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import nn


class MelodyLSTM(nn.Module):
    def __init__(self, num_classes: int = 38, hidden: int = 128, layers: int = 2, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.hidden = hidden
        self.layers = layers
        # nn.LSTM's `dropout` acts on the outputs of every layer but the last; `self.drop` covers
        # the last one, so every layer's output is dropped as with Magenta's DropoutWrapper.
        self.lstm = nn.LSTM(num_classes, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, num_classes)
        with torch.no_grad():
            for k in range(layers):
                getattr(self.lstm, f"bias_ih_l{k}")[hidden:2 * hidden].fill_(1.0)  # gate order i,f,g,o
                getattr(self.lstm, f"bias_hh_l{k}")[hidden:2 * hidden].zero_()

    def forward(self, x: torch.Tensor, state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None):
        """x: [batch, time, num_classes] one-hot; state: (h [layers,B,H], c [layers,B,H])."""
        y, state = self.lstm(x, state)
        return self.out(self.drop(y)), state

    def contract_state(self, state: Tuple[torch.Tensor, torch.Tensor]) -> List[torch.Tensor]:
        """(h, c) -> the contract's order [c0, h0, c1, h1, ...], each [batch, hidden]."""
        h, c = state
        out = []
        for k in range(self.layers):
            out += [c[k], h[k]]
        return out

    def from_contract_state(self, flat: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        c = torch.stack([flat[2 * k] for k in range(self.layers)])
        h = torch.stack([flat[2 * k + 1] for k in range(self.layers)])
        return h.contiguous(), c.contiguous()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
