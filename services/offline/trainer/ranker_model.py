"""The ranker's PyTorch model: a transformer over the user's recent actions, fused with each candidate.

Variants (same candidate tower, same heads, same loss):
  sequence      the served design. The action sequence (plus a learned [USER] token) goes through a
                2-layer transformer encoder ONCE per user; each candidate then attends to the encoded
                sequence (cross-attention: query = candidate, keys/values = encoded actions), and
                [candidate, attended, user token, their products] go through an MLP to three logits.
                Scoring N candidates costs one sequence pass plus N cheap attention reads.
  no_sequence   the ablation: the same model without the action sequence (candidate features and
                the user's locale only).
  early_fusion  TransAct-style early fusion: the candidate is added to every action token and the
                encoder runs once PER CANDIDATE (N sequence passes); measured for comparison.

With source_ranks, a fixed-size view of the same proposals is added: per generator of the vocabulary,
whether it proposed the candidate and a smooth reciprocal rank, through one linear layer (a learned
rank fusion the model can read directly, where the pair embeddings see only rank buckets). With
prescore_place, each candidate's place in its request (replayed requests, like the blender's Rank
calls, list the candidates in pre-score order): the slot in training, the row at serving.

A candidate's sources (the generators that proposed it, with their ranks) are the mean of
(generator + rank-bucket) embeddings, or with source_pairs (the blender's replayed candidates on an
imported log, every proposal kept) the sum of one embedding per (generator, rank bucket) pair: a
mean of sums cannot tell which generator gave which rank, and that is what the pre-score order uses.

Numbers (time gaps, item age, the item's creation against the user's last action, popularity,
ranks) come in raw; the model buckets them itself with
fixed edges (buffers), so the bucketing is part of the ONNX graph and cannot drift from serving.
"""
import math
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = ("sequence", "no_sequence", "early_fusion")
SEQ_INPUTS = ["seq_item", "seq_topic", "seq_action", "seq_gap_hours", "user_locale"]
CAND_INPUTS = ["cand_item", "cand_topic", "cand_creator", "cand_locale", "cand_age_days", "cand_popularity", "cand_source", "cand_rank", "cand_after_last_days"]
OUTPUTS = ["p_click", "p_save", "p_hide"]
NEG = -1e4
warnings.filterwarnings("ignore", message="scatter_reduce")  # beta in this torch; used for a per-request max only


class Bucketize(nn.Module):
    """1 + the number of edges <= x (so len(edges) + 2 buckets); missing -> 0. Missing is x < 0, or
    with signed (values on both sides of 0) the encoding's unknown sentinel, |x| >= 1e5."""

    def __init__(self, edges, signed=False):
        super().__init__()
        self.register_buffer("edges", torch.tensor(list(edges) or [0.0], dtype=torch.float32))
        self.buckets = len(self.edges) + 2
        self.signed = signed

    def forward(self, x):
        idx = (x.unsqueeze(-1) >= self.edges).long().sum(-1) + 1
        missing = x.abs() >= 1e5 if self.signed else x < 0
        return torch.where(missing, torch.zeros_like(idx), idx)


class SelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, pad):  # x [B, T, d], pad [B, T] True = padding
        B, T, d = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)
        s = s.masked_fill(pad[:, None, None, :], NEG)
        return self.out((torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, d))


class EncoderLayer(nn.Module):
    """Pre-LayerNorm transformer encoder layer."""

    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = SelfAttention(d, heads)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad):
        x = x + self.drop(self.attn(self.ln1(x), pad))
        return x + self.drop(self.ff(self.ln2(x)))


class CrossAttention(nn.Module):
    """Each candidate (query) reads its user's encoded sequence (keys/values), computed once per user."""

    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v, self.out = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, c, enc, pad):
        """c [B, M, d] candidates of B users; enc [B, T, d]; pad [B, T]. Batched GEMMs per user and head."""
        B, M, d = c.shape
        q = self.q(c).reshape(B, M, self.h, self.dh).transpose(1, 2)  # B h M dh
        k = self.k(enc).reshape(B, -1, self.h, self.dh).transpose(1, 2)  # B h T dh
        v = self.v(enc).reshape(B, -1, self.h, self.dh).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)  # B h M T
        s = s.masked_fill(pad[:, None, None, :], NEG)
        o = torch.softmax(s, dim=-1) @ v  # B h M dh
        return self.out(o.transpose(1, 2).reshape(B, M, d))


class Ranker(nn.Module):
    def __init__(self, card, buckets, variant="sequence", d=32, heads=2, layers=2, ff=64, hidden=128, dropout=0.1, seq_len=100, source_pairs=False, source_ranks=False, prescore_place=False):
        super().__init__()
        self.source_pairs = source_pairs
        self.source_ranks = source_ranks
        self.prescore_place = prescore_place
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}")
        self.variant = variant
        self.d = d
        self.gap = Bucketize(buckets["gapHours"])
        self.age = Bucketize(buckets["ageDays"])
        self.pop = Bucketize(buckets["popularity"])
        self.rank = Bucketize(buckets["rank"])
        # Datasets written before the input existed have no edges for it: one bucket, read as nothing.
        self.after_last = Bucketize(buckets.get("afterLastDays") or [], signed=True)
        self.item = nn.Embedding(card["items"], d, padding_idx=0)
        self.topic = nn.Embedding(card["topics"], d, padding_idx=0)
        self.creator = nn.Embedding(card["creators"], 16, padding_idx=0)
        self.locale = nn.Embedding(card["locales"], 8, padding_idx=0)
        self.source = nn.Embedding(card["sources"], 16, padding_idx=0)
        self.rank_emb = nn.Embedding(self.rank.buckets, 16)
        if source_pairs:
            self.pair_emb = nn.Embedding(card["sources"] * self.rank.buckets, 16)
        self.age_emb = nn.Embedding(self.age.buckets, 8)
        self.pop_emb = nn.Embedding(self.pop.buckets, 8)
        self.after_last_emb = nn.Embedding(self.after_last.buckets, 8)
        cand_width = d + d + 16 + 8 + 8 + 8 + 8 + 16 + 1
        if source_ranks:
            # Per generator of the vocabulary: did it propose the candidate, and how high (a smooth
            # reciprocal rank); a linear map of them is a learned rank fusion (RRF with its own weights).
            self.register_buffer("source_ids", torch.arange(card["sources"]))
            self.source_rank_proj = nn.Linear(2 * card["sources"], 16)
            cand_width += 16
        if prescore_place:
            # The candidate's place in the request: the blender sends its top N in pre-score order,
            # so the model can start from that order and learn where to depart from it.
            self.place_proj = nn.Linear(2, 16)
            cand_width += 16
        self.cand = nn.Sequential(nn.Linear(cand_width, d), nn.LayerNorm(d))
        if variant != "no_sequence":
            self.action = nn.Embedding(4, d, padding_idx=0)
            self.gap_emb = nn.Embedding(self.gap.buckets, d)
            self.pos = nn.Embedding(seq_len + 1, d)
            self.user_token = nn.Parameter(torch.randn(d) * 0.02)
            self.layers = nn.ModuleList([EncoderLayer(d, heads, ff, dropout) for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
        if variant == "sequence":
            self.cross = CrossAttention(d, heads)
            fused = 5 * d + 1 + 8
        elif variant == "early_fusion":
            fused = 2 * d + 1 + 8
        else:
            fused = d + 1 + 8
        self.mlp = nn.Sequential(nn.Linear(fused, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 64), nn.ReLU(), nn.Linear(64, 3))

    # --- pieces -------------------------------------------------------------------------------

    def tokens(self, seq_item, seq_topic, seq_action, seq_gap_hours):
        """[B, L] inputs -> [B, L+1, d] tokens (the [USER] token first) and the padding mask."""
        B, L = seq_item.shape
        x = self.item(seq_item.long()) + self.topic(seq_topic.long()) + self.action(seq_action.long()) + self.gap_emb(self.gap(seq_gap_hours))
        x = torch.cat([self.user_token.expand(B, 1, self.d), x], dim=1)
        x = x + self.pos(torch.arange(L + 1, device=x.device)).unsqueeze(0)
        pad = torch.cat([torch.zeros(B, 1, dtype=torch.bool, device=x.device), seq_action == 0], dim=1)
        return x, pad

    def encode(self, x, pad):
        for layer in self.layers:
            x = layer(x, pad)
        return self.ln(x)

    def candidates(self, cand_item, cand_topic, cand_creator, cand_locale, cand_age_days, cand_popularity, cand_source, cand_rank, cand_after_last_days, user_locale_per_cand, place=None):
        """[N] inputs -> [N, d] candidate embeddings, and [N, 1 + 8] locale features. place [N]: each
        candidate's index in its request (used with prescore_place)."""
        src_mask = (cand_source > 0).float().unsqueeze(-1)
        if self.source_pairs:
            src = (self.pair_emb(cand_source.long() * self.rank.buckets + self.rank(cand_rank)) * src_mask).sum(1)
        else:
            src = (self.source(cand_source.long()) + self.rank_emb(self.rank(cand_rank))) * src_mask
            src = src.sum(1) / (src_mask.sum(1) + 1e-6)
        match = ((cand_locale == user_locale_per_cand) & (cand_locale > 1)).float().unsqueeze(-1)
        parts = [
            self.item(cand_item.long()),
            self.topic(cand_topic.long()),
            self.creator(cand_creator.long()),
            self.locale(cand_locale.long()),
            self.age_emb(self.age(cand_age_days)),
            self.pop_emb(self.pop(cand_popularity)),
            self.after_last_emb(self.after_last(cand_after_last_days)),
            src,
            match,
        ]
        if self.source_ranks:
            parts.append(self.source_rank_proj(self.per_source(cand_source, cand_rank)))
        if self.prescore_place:
            parts.append(self.place_proj(torch.stack([torch.log1p(place) / 5.0, 10.0 / (10.0 + place)], dim=1)))
        c = torch.cat(parts, dim=1)
        return self.cand(c), torch.cat([match, self.locale(user_locale_per_cand.long())], dim=1)

    def per_source(self, cand_source, cand_rank):
        """[N, K] proposals -> [N, 2 S]: per generator, whether it proposed the candidate and 10 / (10 + rank)."""
        hit = ((cand_source.long().unsqueeze(-1) == self.source_ids) & (cand_source > 0).unsqueeze(-1)).float()  # N K S
        recip = (10.0 / (10.0 + torch.clamp(cand_rank, min=0.0))).unsqueeze(-1)
        return torch.cat([hit.sum(1), (hit * recip).sum(1)], dim=1)

    # --- forward paths --------------------------------------------------------------------------

    def forward(self, seq, cand, ctx, slot):
        """Training/evaluation: seq = 5 tensors for B users, cand = 9 tensors for N candidates;
        candidate n belongs to user ctx[n] and is its slot[n]-th candidate."""
        seq_item, seq_topic, seq_action, seq_gap_hours, user_locale = seq
        c, loc = self.candidates(*cand, user_locale[ctx], place=slot.float())
        if self.variant == "no_sequence":
            return self.mlp(torch.cat([c, loc], dim=1))
        x, pad = self.tokens(seq_item, seq_topic, seq_action, seq_gap_hours)
        if self.variant == "early_fusion":
            enc = self.encode(x[ctx] + c.unsqueeze(1), pad[ctx])
            return self.mlp(torch.cat([c, enc[:, 0], loc], dim=1))
        enc = self.encode(x, pad)
        per_user = c.new_zeros(enc.shape[0], int(slot.max()) + 1, self.d)
        per_user[ctx, slot] = c
        a = self.cross(per_user, enc, pad)[ctx, slot]
        u = enc[:, 0][ctx]
        return self.mlp(torch.cat([c, a, u, c * a, c * u, loc], dim=1))

    def one_user(self, seq, cand):
        """Serving: seq tensors of ONE user ([1, L], [1]) and N candidates: one sequence pass for all N."""
        seq_item, seq_topic, seq_action, seq_gap_hours, user_locale = seq
        n = cand[0].shape[0]
        # Candidates come in request order: row i is the i-th (0, 1, …), a dynamic range in the graph.
        place = torch.cumsum(torch.ones_like(cand[4]), 0) - 1.0
        c, loc = self.candidates(*cand, user_locale.expand(n), place=place)
        if self.variant == "no_sequence":
            return self.mlp(torch.cat([c, loc], dim=1))
        x, pad = self.tokens(seq_item, seq_topic, seq_action, seq_gap_hours)
        if self.variant == "early_fusion":
            enc = self.encode(x.expand(n, -1, -1) + c.unsqueeze(1), pad.expand(n, -1))
            return self.mlp(torch.cat([c, enc[:, 0], loc], dim=1))
        enc = self.encode(x, pad)
        a = self.cross(c.unsqueeze(0), enc, pad)[0]
        u = enc[:, 0].expand(n, -1)
        return self.mlp(torch.cat([c, a, u, c * a, c * u, loc], dim=1))


class Serving(nn.Module):
    """The exported graph: one user's sequence and N candidates in, each head's probability out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, seq_item, seq_topic, seq_action, seq_gap_hours, user_locale, cand_item, cand_topic, cand_creator, cand_locale, cand_age_days, cand_popularity, cand_source, cand_rank, cand_after_last_days):
        seq = (seq_item, seq_topic, seq_action, seq_gap_hours, user_locale)
        cand = (cand_item, cand_topic, cand_creator, cand_locale, cand_age_days, cand_popularity, cand_source, cand_rank, cand_after_last_days)
        # (The no_sequence variant reads none of the seq_* inputs; they drop out of its graph, and the
        # service feeds a model only the inputs it declares.)
        p = torch.sigmoid(self.model.one_user(seq, cand))
        return p[:, 0], p[:, 1], p[:, 2]


def weighted_bce(logits, labels, head_weights):
    """Σ_h weight_h · BCE(head h): the multi-task weighted cross-entropy."""
    losses = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(0)
    return (losses * head_weights).sum() / head_weights.sum(), losses.detach()


def listwise_softmax(logits, labels, request):
    """Mean over the engaged (click, save) examples of −log softmax of their head's logit among
    their request's candidates: what decides the top of a request, where BCE scores each
    candidate alone. request [E]: each example's request in the batch."""
    n = int(request.max()) + 1 if request.numel() else 0
    losses = []
    for h in (0, 1):
        z = logits[:, h]
        top = torch.full((n,), NEG).scatter_reduce(0, request, z.detach(), reduce="amax", include_self=True)
        shifted = z - top[request]
        log_denominator = torch.log(torch.zeros(n).index_add(0, request, torch.exp(shifted)))
        engaged = labels[:, h] > 0
        if engaged.any():
            losses.append(-(shifted - log_denominator[request])[engaged].mean())
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0
