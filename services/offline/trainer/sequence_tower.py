"""The sequence user tower and the dense all-action targets (PinnerFormer-style), for
`two_tower.py --user-tower sequence`. Everything else (data, item tower, loss, epochs, export,
report) is two_tower.py's, so a sequence version has the same ONNX inputs and output as a pooled one.

SequenceUserTower: the newest --seq-len (16) history slots (hist_items is newest first, one slot per
distinct item) as tokens: the item's id embedding (the item tower's table) + a slot-position
embedding + a projection of its relative weight log(w / the user's largest w), which carries the
action (a save weighs 2, a click 1) and how long before the user's newest engagement it came.
--seq-layers (1) pre-norm transformer encoder layers over them (2 heads, feed-forward 2 x width), read out as the mean over the real tokens (or the
newest token). The tower's MLP sees that readout beside the plain mean of every history item (the
pooled tower's summary), the follows, topics, locale, hour and log(1 + history length).

DenseTargets: a training example is the user's state just before an engagement; its positives are
that engagement and every later first engagement of the same user within --dense-window-days (the
"following days"), not only the next one. Each step samples a few of them per example.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from user_features import SideFeatures, history_table, keep_factors

# log(w / largest w) is clamped here: a click ~52 days older than the user's newest engagement
# (72 h half-life) and anything older read the same.
LOG_WEIGHT_FLOOR = -12.0
# Additive attention bias of padding slots (not -inf: a user without history must not give NaN).
PAD_BIAS = -1e9


class EncoderLayer(nn.Module):
    """One pre-norm transformer encoder layer in plain ops: exports to ONNX as is, and deterministic."""

    def __init__(self, d, heads, ff):
        super().__init__()
        if d % heads:
            raise SystemExit(f"--emb {d} must be a multiple of --seq-heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.ReLU(), nn.Linear(ff, d))

    def forward(self, x, bias):
        # -1 for the batch: the exported graph keeps a dynamic batch size.
        s, d, h = x.shape[1], self.out.in_features, self.heads
        qkv = self.qkv(self.norm1(x)).reshape(-1, s, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(d // h) + bias, dim=-1)
        x = x + self.out((att @ qkv[2]).transpose(1, 2).reshape(-1, s, d))
        return x + self.ff(self.norm2(x))


class SequenceUserTower(nn.Module):
    def __init__(self, card, emb, hidden, dim, seq_len, item_table=None, layers=1, heads=2, readout="mean",
                 with_mean=True, ignore=()):
        super().__init__()
        self.keep = keep_factors(ignore)
        self.hist = history_table(card, emb, item_table)
        d = self.hist.embedding_dim
        self.seq_len = seq_len
        self.readout = readout
        self.with_mean = with_mean
        self.position = nn.Embedding(seq_len, d)
        self.recency = nn.Linear(1, d)
        # Feed-forward width 2d, not the usual 4d: on one shared core the layers are most of the cost.
        self.layers = nn.ModuleList(EncoderLayer(d, heads, 2 * d) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.side = SideFeatures(card, self.keep)
        width = d * (2 if with_mean else 1) + SideFeatures.WIDTH + 1
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, hist_items, hist_weights, follow_creators, topics, locale, hour):
        present = (hist_items > 0).to(hist_weights.dtype)
        count = present.sum(1, keepdim=True)
        items = self.hist(hist_items)
        s = self.seq_len
        real, w = present[:, :s], hist_weights[:, :s]
        # Relative to the user's largest weight, so the request time does not matter; all-zero
        # weights (underflow after a long idle time) read as "all as new as the newest".
        top = hist_weights.max(dim=1, keepdim=True).values
        rel = torch.log(w.clamp_min(1e-30) / torch.where(top > 0, top, torch.ones_like(top)))
        rel = torch.where(top > 0, rel.clamp(LOG_WEIGHT_FLOOR, 0.0), torch.zeros_like(rel))
        x = (
            items[:, :s]
            + self.position.weight.unsqueeze(0)
            + self.recency((rel / -LOG_WEIGHT_FLOOR).unsqueeze(-1)) * self.keep["hist_weights"]
        )
        bias = ((1.0 - real) * PAD_BIAS)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        x = self.norm(x) * real.unsqueeze(-1)
        seq = x[:, 0] if self.readout == "newest" else x.sum(1) / (real.sum(1, keepdim=True) + 1e-6)
        parts = [seq, self.side(follow_creators, topics, locale, hour), torch.log1p(count)]
        if self.with_mean:
            parts.insert(0, (items * present.unsqueeze(-1)).sum(1) / (count + 1e-6))
        return F.normalize(self.mlp(torch.cat(parts, dim=1)), dim=1, eps=1e-6)


class DenseTargets:
    """Per training example, its positives in the window: the example itself and the same user's
    later examples before its time + window_ms, among the first n_fit examples (the rest are held
    out for choosing epochs and are nobody's positive)."""

    def __init__(self, users, times, n_fit, window_ms):
        n = len(users)
        users = users.astype(np.int64)
        # Examples grouped by user, each user's in time order (the dataset is in time order).
        self.order = np.lexsort((np.arange(n), users)).astype(np.int64)
        self.where = np.empty(n, dtype=np.int64)
        self.where[self.order] = np.arange(n)
        su = users[self.order]
        st = times[self.order].astype(np.int64)
        t0 = int(st.min()) if n else 0
        span = (int(st.max()) - t0 if n else 0) + int(window_ms) + 1
        key = su * span + (st - t0)  # increasing: by user, then time
        end = np.searchsorted(key, key + int(window_ms), side="left")
        start = np.searchsorted(su, su, side="left")
        fit_per_user = np.bincount(users[:n_fit], minlength=int(users.max()) + 1 if n else 1)
        end = np.minimum(end, start + fit_per_user[su])
        self.count = np.maximum(1, end - np.arange(n))
        self.where_t = torch.from_numpy(self.where)
        self.count_t = torch.from_numpy(self.count)
        self.order_t = torch.from_numpy(self.order)
        self.mean_positives = float(self.count[self.where[:n_fit]].mean()) if n_fit else 0.0

    def sample(self, idx, m, gen):
        """m positives per example: its own engagement, then m - 1 drawn from its window (with
        replacement). Returns the positives' example indices and each one's owner (0..len(idx)-1)."""
        pos = self.where_t[idx]
        draws = (torch.rand((len(idx), m - 1), generator=gen) * self.count_t[pos].unsqueeze(1)).long()
        offsets = torch.cat([torch.zeros((len(idx), 1), dtype=torch.long), draws], dim=1)
        examples = self.order_t[(pos.unsqueeze(1) + offsets).reshape(-1)]
        return examples, torch.arange(len(idx)).repeat_interleave(m)
