"""The multi-interest user tower (MIND / ComiRec-SA style), for `two_tower.py --user-tower multi
--interests K`. Everything else (data, item tower, loss, epochs, export, report) is two_tower.py's.

A user is K unit embeddings instead of one, so a user with several interests gets items near each of
them rather than near their mean. Interest k is an attention readout of the history items: K learned
queries score every real history slot (its item id embedding, from the item tower's table, plus a
slot-position embedding, so an interest can follow the newest engagements), softmax over the slots,
and the interest is the weighted mean of the slots' item embeddings. One MLP, shared by the K
interests, maps [interest k, plain mean of every history item (the pooled tower's summary; left
out with --no-interest-mean), followed creators, topics, locale, hour, log(1 + history length)] to
the k-th embedding.

A user-item score is the max over the K interests (`interest_scores`): in training (in-batch
softmax and logQ, the logit of an example for an item is that max) and at serving (K ANN searches
merged by max score per item). Output: [B, K, dim].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from user_features import SideFeatures, history_table, keep_factors

# Additive attention bias of padding slots (not -inf: a user without history must not give NaN).
PAD_BIAS = -1e9


def interest_scores(users, items):
    """Scores of users against items: users [B, D] (one embedding) -> users @ items.T; users
    [B, K, D] (K interests) -> the max over the interests, [B, N]."""
    if users.dim() == 2:
        return users @ items.T
    return torch.einsum("bkd,nd->bkn", users, items).max(dim=1).values


class MultiInterestUserTower(nn.Module):
    def __init__(self, card, emb, hidden, dim, interests, hist_len, item_table=None, ignore=(), attention=32,
                 with_mean=True, sharpness=1.0, source="attention"):
        super().__init__()
        if interests < 1:
            raise SystemExit("--interests must be >= 1")
        if source == "seeds" and not 2 <= interests <= hist_len + 1:
            raise SystemExit(f"--interest-source seeds: --interests must be 2..{hist_len + 1}")
        self.interests, self.with_mean, self.sharpness, self.source = interests, with_mean, sharpness, source
        self.keep = keep_factors(ignore)
        self.hist = history_table(card, emb, item_table)
        d = self.hist.embedding_dim
        self.position = nn.Embedding(hist_len, d)
        # ComiRec-SA's self-attention: logits_k(slot) = q_k . tanh(W (item + position)).
        self.key = nn.Linear(d, attention)
        self.queries = nn.Parameter(torch.randn(interests, attention) / math.sqrt(attention))
        self.side = SideFeatures(card, self.keep)
        # routing: each interest also sees log(1 + its share of the history).
        extra = 1 if source == "routing" else 0
        self.mlp = nn.Sequential(nn.Linear((2 if with_mean else 1) * d + SideFeatures.WIDTH + 1 + extra, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, hist_items, hist_weights, follow_creators, topics, locale, hour):
        present = (hist_items > 0).to(hist_weights.dtype)
        count = present.sum(1, keepdim=True)
        items = self.hist(hist_items)  # [B, L, d]
        mean = (items * present.unsqueeze(-1)).sum(1) / (count + 1e-6)
        if self.source == "seeds":
            return self.from_seeds(hist_items, present, count, items, mean, hist_weights, follow_creators, topics, locale, hour)
        keys = torch.tanh(self.key(items + self.position.weight[: hist_items.shape[1]].unsqueeze(0)))  # [B, L, a]
        logits = (keys @ self.queries.T) * self.sharpness + ((1.0 - present) * PAD_BIAS).unsqueeze(-1)  # [B, L, K]
        if self.source == "routing":
            # Each history item split among the K interests (softmax over the interests, as MIND's
            # routing), an interest the mean of its share: a soft clustering of the history.
            att = torch.softmax(logits, dim=2) * present.unsqueeze(-1)
            mass = att.sum(1).unsqueeze(-1)  # [B, K, 1]
            interest = torch.cat([att.transpose(1, 2) @ items / (mass + 1e-6), torch.log1p(mass)], dim=2)
        else:
            att = torch.softmax(logits, dim=1) * present.unsqueeze(-1)
            # [B, K, d]; a user without history: every interest is 0, the MLP still sees the side inputs.
            interest = att.transpose(1, 2) @ items
        # hist_weights * 0: still an input of the exported graph (the interface), as the pooled tower.
        rest = [self.side(follow_creators, topics, locale, hour), torch.log1p(count + hist_weights[:, :1] * 0.0)]
        rest = torch.cat(([mean] if self.with_mean else []) + rest, dim=1)
        x = torch.cat([interest, rest.unsqueeze(1).expand(-1, self.interests, -1)], dim=2)
        return F.normalize(self.mlp(x), dim=-1, eps=1e-6)

    def from_seeds(self, hist_items, present, count, items, mean, hist_weights, follow_creators, topics, locale, hour):
        """Interest 0 from the mean alone (the pooled tower's view), interests 1..K-1 each from one
        of the K-1 newest history items beside it (a seed, as pixie walks from each recent
        engagement); a seed slot the user lacks repeats interest 0, so the max is unchanged."""
        L = hist_items.shape[1]
        newest_first = present * (L - torch.arange(L, dtype=present.dtype)).unsqueeze(0)
        rank, slot = torch.topk(newest_first, self.interests - 1, dim=1)
        has = (rank > 0).to(items.dtype).unsqueeze(-1)  # [B, K-1, 1]
        seeds = torch.gather(items, 1, slot.unsqueeze(-1).expand(-1, -1, items.shape[-1])) * has
        interest = torch.cat([torch.zeros_like(seeds[:, :1]), seeds], dim=1)  # [B, K, d]
        rest = [self.side(follow_creators, topics, locale, hour), torch.log1p(count + hist_weights[:, :1] * 0.0)]
        rest = torch.cat(([mean] if self.with_mean else []) + rest, dim=1)
        x = torch.cat([interest, rest.unsqueeze(1).expand(-1, self.interests, -1)], dim=2)
        out = F.normalize(self.mlp(x), dim=-1, eps=1e-6)
        keep = torch.cat([torch.ones_like(has[:, :1]), has], dim=1)
        return out * keep + out[:, :1] * (1.0 - keep)
