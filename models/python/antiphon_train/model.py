"""The event-RNN network of the Melody, Drums and Improv families in PyTorch:
(optional attention-wrapped first layer) -> LSTM stack -> dropout -> linear.

Magenta's layout (facts, see shared/reference/magenta-models.md): a stack of LSTM layers with
dropout on every layer's output during training only, then one dense layer to the class logits.
TF's BasicLSTMCell adds a forget-gate bias of 1.0 at run time; here the same 1.0 starts in the
(trainable) forget bias instead, so the exported graph needs no run-time constant.

With ``attn_length > 0`` the first layer is wrapped in Magenta's attention cell (Bahdanau-style
attention over the layer's last ``attn_length`` outputs; A = the first layer's size):

1. ``x' = W1·[x ; attns_prev] + b1``  (back to the input width)
2. ``(out, (c, h)) = LSTM_0(x', (c, h))``
3. ``q = W3·[c ; h] + b3``
4. ``s_j = v · tanh(attn_w·w_j + q)`` over the window ``w_1..w_N``; ``a = softmax(s)``;
   ``attns = Σ a_j w_j``
5. ``output = W2·[out ; attns] + b2``; the window drops its oldest entry and appends ``output``.

State (contract order): ``c, h`` of every layer, then ``attns`` ``[B, A]``, then the window
``[B, N·A]`` (oldest first). The first layer then runs step by step in Python (its input depends on
the previous step's attention); the layers above still run as one ``nn.LSTM`` over the sequence.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn


class SeqModel(nn.Module):
    def __init__(self, input_size: int, num_classes: int, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.5, attn_length: int = 0):
        super().__init__()
        self.input_size = input_size
        self.num_classes = num_classes
        self.hidden = hidden
        self.layers = layers
        self.attn_length = attn_length
        self.dropout = dropout
        H = hidden
        if attn_length:
            self.attn_in = nn.Linear(input_size + H, input_size)  # W1, b1
            self.cell0 = nn.LSTMCell(input_size, H)
            self.attn_query = nn.Linear(2 * H, H)  # W3, b3
            self.attn_w = nn.Linear(H, H, bias=False)  # attn_w (a 1x1 convolution in Magenta)
            self.attn_v = nn.Parameter(torch.empty(H).uniform_(-0.1, 0.1))
            self.attn_out = nn.Linear(2 * H, H)  # W2, b2
            with torch.no_grad():
                self.cell0.bias_ih[H:2 * H].fill_(1.0)
                self.cell0.bias_hh[H:2 * H].zero_()
            rest = layers - 1
            self.drop0 = nn.Dropout(dropout)
            first_rest_input = H
        else:
            rest = layers
            first_rest_input = input_size
        self.lstm = None
        if rest:
            # nn.LSTM's `dropout` acts on the outputs of every layer but the last; `self.drop`
            # covers the last one, so every layer's output is dropped as with Magenta's wrapper.
            self.lstm = nn.LSTM(first_rest_input, H, num_layers=rest, batch_first=True,
                                dropout=dropout if rest > 1 else 0.0)
            with torch.no_grad():
                for k in range(rest):
                    getattr(self.lstm, f"bias_ih_l{k}")[H:2 * H].fill_(1.0)  # gate order i,f,g,o
                    getattr(self.lstm, f"bias_hh_l{k}")[H:2 * H].zero_()
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(H, num_classes)

    @property
    def num_states(self) -> int:
        return 2 * self.layers + (2 if self.attn_length else 0)

    def state_sizes(self) -> List[int]:
        sizes = [self.hidden] * (2 * self.layers)
        if self.attn_length:
            sizes += [self.hidden, self.hidden * self.attn_length]
        return sizes

    def zero_state(self, batch: int) -> List[torch.Tensor]:
        return [torch.zeros(batch, n) for n in self.state_sizes()]

    def forward(self, x: torch.Tensor, state: Optional[List[torch.Tensor]] = None):
        """x: [batch, time, input_size]; state: contract-ordered list (None = zeros).
        Returns (logits [batch, time, classes], contract-ordered final state)."""
        B, T, _ = x.shape
        if state is None:
            state = self.zero_state(B)
        H, N = self.hidden, self.attn_length
        final: List[torch.Tensor] = []
        if N:
            c, h = state[0], state[1]
            attns = state[2 * self.layers]
            win = state[2 * self.layers + 1].reshape(B, N, H)
            win_k = self.attn_w(win)  # attn_w·w_j, kept alongside the window
            x_proj = nn.functional.linear(x, self.attn_in.weight[:, :self.input_size], self.attn_in.bias)
            w_attn = self.attn_in.weight[:, self.input_size:]
            outs = []
            for t in range(T):
                xt = x_proj[:, t] + attns @ w_attn.T
                h, c = self.cell0(xt, (h, c))
                q = self.attn_query(torch.cat([c, h], dim=1))
                s = torch.tanh(win_k + q[:, None, :]) @ self.attn_v  # [B, N]
                a = torch.softmax(s, dim=1)
                attns = (a[:, :, None] * win).sum(dim=1)
                o = self.attn_out(torch.cat([h, attns], dim=1))
                outs.append(o)
                win = torch.cat([win[:, 1:], o[:, None, :]], dim=1)
                win_k = torch.cat([win_k[:, 1:], self.attn_w(o)[:, None, :]], dim=1)
            y = torch.stack(outs, dim=1)
            final += [c, h]
            rest_state = state[2:2 * self.layers]
            attn_final = [attns, win.reshape(B, N * H)]
            if self.lstm is not None:
                y = self.drop0(y)
        else:
            y = x
            rest_state = state[:2 * self.layers]
            attn_final = []
        if self.lstm is not None:
            k = len(rest_state) // 2
            c0 = torch.stack([rest_state[2 * i] for i in range(k)]).contiguous()
            h0 = torch.stack([rest_state[2 * i + 1] for i in range(k)]).contiguous()
            y, (hn, cn) = self.lstm(y, (h0, c0))
            for i in range(k):
                final += [cn[i], hn[i]]
        return self.out(self.drop(y)), final + attn_final

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
