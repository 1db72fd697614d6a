#!/usr/bin/python3
"""Trains the two-tower retrieval model on a dataset built by libs/training/two-tower-dataset.ts.

    /usr/bin/python3 services/offline/trainer/two_tower.py --data DATASET_DIR --out ARTIFACT_DIR --report REPORT.json
        [--seed 7] [--epochs 0 (choose)] [--dim 32] [--batch 0 (auto)] [--lr 0.01] [--temperature 0.1]

User tower (--user-tower pooled, the default): mean of the recent engaged items' embeddings (the
item tower's id table), mean of followed creators' and topics' embeddings, locale embedding,
log(1 + history length) -> MLP -> L2-normalized embedding. The dataset's history weights (action
weight x recency back from the request time) are divided by the user's largest, so a user idle for
a month is not a user without history; with the default --recency-power 0 the pooling is a plain
mean. The hour of day is an input but left out by
default (--ignore hour). Item tower: id, topic, creator, board, age-bucket and popularity-bucket
embeddings -> MLP -> L2-normalized embedding. --user-tower sequence: a small transformer over the
newest history slots instead, trained with the dense all-action loss (sequence_tower.py); the same
inputs and output, so serving does not tell the two apart.

Loss: sampled softmax over in-batch negatives (plus optional uniform catalog negatives), logits
divided by a temperature, with the logQ correction (the log of each candidate's expected count in a
batch, from the training frequency of the item) subtracted, and repeated items masked out. Positives
are encoded as the catalog has them at the end of the window (what the indexer serves), 40% of each
example's history items are dropped at random, and the number of epochs is chosen on the newest 5%
of the examples (docs/RELEVANCE.md has the measurements behind every default).

Writes ARTIFACT_DIR/user_tower.onnx and ARTIFACT_DIR/item_tower.onnx (opset 17, dynamic batch;
inputs named as the dataset's arrays, every one of them kept, outputs user_embedding /
item_embedding [B, D]) and the report: offline metrics on the held-out day, training details, and
check embeddings of a few users and items (check_*.npy next to the report) that the caller compares
with onnxruntime's output.

Seeded and repeatable: same dataset + same seed + same thread count = the same model, bit for bit.
"""
import argparse
import copy
import json
import math
import os
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_json import present_metrics, write_report  # noqa: E402
from multi_interest_tower import MultiInterestUserTower, interest_scores  # noqa: E402
from sequence_tower import DenseTargets, SequenceUserTower  # noqa: E402
from user_features import USER_INPUTS, SideFeatures, history_table, keep_factors  # noqa: E402

ITEM_INPUTS = ["item", "topic", "creator", "board", "age_bucket", "pop_bucket"]
# Optional: every board the item is on ([B, boardLen], 0-padded), when the dataset has items_boards.
BOARDS_INPUT = "boards"
OPSET = 17
CHECK_ROWS = 64
# Choosing epochs: at most this many held-out newest examples, at least this many (else FALLBACK_EPOCHS).
MAX_SELECT_EXAMPLES = 20000
MIN_SELECT_EXAMPLES = 50
FALLBACK_EPOCHS = 5
OOV = 1  # vocabulary index of an unknown id (libs/features/two-tower.ts)
# Bands of a held-out target's training examples, for the hit rates by band in the report.
FREQ_BANDS = [(0, 1), (1, 5), (5, 20), (20, math.inf)]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset directory (dataset.json + .npy files)")
    p.add_argument("--out", required=True, help="where user_tower.onnx and item_tower.onnx go")
    p.add_argument("--report", required=True, help="JSON report: metrics, training details")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--epochs", type=int, default=0,
                   help="training epochs; 0 = choose them: hold out the newest --select-share of the examples, train while their "
                        "next-item recall@100 improves (at most --max-epochs, stopping --patience epochs after the best) and keep the "
                        "best epoch's model (small world: 3-5 epochs; MovieLens 100k: about 25)")
    p.add_argument("--max-epochs", type=int, default=40)
    p.add_argument("--patience", type=int, default=8, help="choosing epochs: stop this many epochs after the best (MovieLens plateaus for ~5 epochs before it climbs)")
    p.add_argument("--select-share", type=float, default=0.05, help="choosing epochs: share of the newest training examples held out")
    p.add_argument("--dim", type=int, default=32, help="output embedding dimension")
    p.add_argument("--emb", type=int, default=32, help="id embedding width inside the towers")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=0, help="batch size; 0 = 512, smaller for small datasets (at least 20 steps an epoch)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--share-item-embedding", action=argparse.BooleanOptionalAction, default=True,
                   help="the user tower's history items use the item tower's id table")
    p.add_argument("--pooling", choices=["absolute", "relative"], default="relative",
                   help="history weights as the dataset gives them (absolute: recency measured back from the request time, so a user "
                        "idle for weeks has weights near 0) or divided by the user's largest (relative: recency measured back from "
                        "the user's newest engagement)")
    p.add_argument("--recency-power", type=float, default=0.0, help="relative pooling: weight ** power (0 = plain mean of the history items, 1 = the dataset's weights)")
    p.add_argument("--history-dropout", type=float, default=0.4, help="share of the history items dropped at random from each training example")
    p.add_argument("--id-init-std", type=float, default=0.0,
                   help="initial std of the item id embeddings (0 = PyTorch's N(0, 1)); small values keep the ids of items "
                        "seen a few times from adding noise to the item and user towers")
    p.add_argument("--id-dropout", type=float, default=0.0,
                   help="share of the training positives whose item id the item tower sees as OOV, so it learns to place "
                        "items from their other features (topic, creator, boards) too")
    p.add_argument("--board-pairs", type=float, default=0.0,
                   help="weight of an extra loss on co-board item pairs (needs a dataset with boards): per step, a batch of "
                        "(item, another item on one of its boards) pairs, in-batch softmax between their item embeddings, so "
                        "items listed together land together, rarely engaged ones included; 0 = off")
    p.add_argument("--history-features", default="",
                   help="pooled user tower: comma-separated features of the history items it also pools (topic, creator, boards), "
                        "looked up per item id in tables baked into user_tower.onnx (the catalog at the end of the window; no new "
                        "ONNX input); '' = none")
    p.add_argument("--history-recent", type=int, default=5,
                   help="--history-features: also pool them over the newest this many history slots (0 = the whole history only)")
    p.add_argument("--user-tower", choices=["pooled", "sequence", "multi"], default="pooled",
                   help="pooled: an MLP over the plain mean of the history items and the side inputs; sequence: a small "
                        "transformer over the newest --seq-len history slots beside them (sequence_tower.py). Same ONNX interface. "
                        "multi: --interests embeddings per user (multi_interest_tower.py), user_embedding [B, K, dim], a score "
                        "is the max over the K")
    p.add_argument("--interests", type=int, default=4, help="multi user tower: embeddings per user (K)")
    p.add_argument("--interest-mean", action=argparse.BooleanOptionalAction, default=True,
                   help="multi user tower: its MLP also sees the plain mean of every history item beside each interest")
    p.add_argument("--interest-sharpness", type=float, default=1.0,
                   help="multi user tower: attention logits over the history slots multiplied by this (larger = each interest "
                        "reads fewer slots)")
    p.add_argument("--interest-source", choices=["attention", "seeds", "routing"], default="attention",
                   help="multi user tower: the K interests are K learned attention readouts of the history (ComiRec-SA), or "
                        "the mean alone plus the newest K-1 history items each beside the mean (seeds), or a soft clustering of the "
                        "history items among K learned prototypes, softmax over the interests (routing, MIND-like)")
    p.add_argument("--interest-diversity", type=float, default=0.0,
                   help="multi user tower: weight of a penalty on the mean cosine between a user's interests (0 = off)")
    p.add_argument("--interest-logit", choices=["max", "target"], default="max",
                   help="multi user tower, training: an example's logit for an item is the max over its K interests (max, "
                        "as served), or the interest closest to the example's positive scores every item (target, ComiRec)")
    p.add_argument("--loss", choices=["next", "dense"], default=None,
                   help="next: an example's positive is its engagement; dense: that and the user's later first engagements within "
                        "--dense-window-days (PinnerFormer's dense all-action loss). Default: dense for the sequence tower, next for the pooled one")
    p.add_argument("--dense-window-days", type=float, default=7.0, help="dense loss: how far after the example its positives reach")
    p.add_argument("--dense-positives", type=int, default=4, help="dense loss: positives per example and step (its own + this - 1 drawn from the window)")
    # 16 slots and one layer: 32 slots and two layers cost far more per epoch on a shared core (docs/RELEVANCE.md).
    p.add_argument("--seq-len", type=int, default=16, help="sequence tower: newest history slots it attends over (at most the dataset's histLen)")
    p.add_argument("--seq-layers", type=int, default=1)
    p.add_argument("--seq-heads", type=int, default=2)
    p.add_argument("--seq-readout", choices=["mean", "newest"], default="mean", help="sequence tower: mean of the outputs over the real slots, or the newest slot's")
    p.add_argument("--seq-mean", action=argparse.BooleanOptionalAction, default=True,
                   help="sequence tower: its MLP also sees the plain mean of every history item (the pooled tower's summary)")
    p.add_argument("--ignore", default="hour",
                   help="comma-separated inputs the towers leave out (still ONNX inputs, multiplied by 0); '' = none. "
                        "Default hour: trained on the hour of each engagement, served with the hour of the request, it "
                        "identifies users in training and misleads at serving")
    p.add_argument("--positive-features", choices=["event", "catalog"], default="catalog",
                   help="encode each positive with its age and popularity at the engagement (event) or as the catalog has them at "
                        "the end of the training window (catalog), which is what the indexer embeds and serves")
    p.add_argument("--negatives", choices=["in-batch", "catalog"], default="in-batch",
                   help="softmax over in-batch negatives (sampled, logQ-corrected) or over the whole catalog (exact, costs a catalog "
                        "pass of the item tower per step)")
    p.add_argument("--uniform-negatives", type=int, default=0, help="extra negatives per batch drawn uniformly from the catalog")
    p.add_argument("--logq-weight", type=float, default=1.0, help="scale of the logQ correction (1 = full)")
    p.add_argument("--no-logq", action="store_true", help="switch the logQ correction off (= --logq-weight 0)")
    p.add_argument("--ensemble", type=int, default=1,
                   help="train this many models (seeds seed, seed+1, ...) and export them as one: each tower outputs its members' "
                        "embeddings side by side / sqrt(N) (dimension N x --dim), so a score is the mean of the members' scores")
    p.add_argument("--save-val-embeddings", action="store_true",
                   help="diagnostic: also write val_user_embedding.npy and catalog_item_embedding.npy next to the report")
    p.add_argument("--track-val", action="store_true", help="diagnostic: the held-out metric after every epoch (in the report)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine: more threads spin)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def log(args, *parts):
    if not args.quiet:
        print("[two_tower]", *parts, file=sys.stderr, flush=True)


class Dataset:
    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "dataset.json")) as f:
            self.meta = json.load(f)
        self.arrays = {}

    def has(self, name):
        return name in self.meta["arrays"]

    def __getitem__(self, name):
        if name not in self.arrays:
            entry = self.meta["arrays"].get(name)
            if entry is None:
                raise KeyError(f"dataset {self.dir} has no array {name}")
            self.arrays[name] = np.load(os.path.join(self.dir, entry["file"]))
        return self.arrays[name]

    def cardinalities(self):
        enc = self.meta["encoding"]
        v = enc["vocab"]
        return {
            "items": len(v["items"]),
            "creators": len(v["creators"]),
            "topics": len(v["topics"]),
            "boards": len(v["boards"]),
            "locales": len(v["locales"]),
            "age": len(enc["buckets"]["ageDays"]) + 2,
            "pop": len(enc["buckets"]["popularity"]) + 2,
        }


def item_lookup(ds, name, n_vocab):
    """[items vocab, ...] int64: catalog array items_<name> (its value as of the end of the window)
    per item id; OOV and padding: 0 (none). What the user tower looks its history items up in."""
    values = ds[f"items_{name}"]
    table = np.zeros((n_vocab,) + values.shape[1:], dtype=np.int64)
    ids = ds["items_item"].astype(np.int64)
    known = ids > 1
    table[ids[known]] = values[known]
    return torch.from_numpy(table)


def pool_boards(table, ids):
    """Mean of the embeddings of the non-padding board ids along the last axis (0 where there are none)."""
    present = (ids > 0).to(table.weight.dtype).unsqueeze(-1)
    return (table(ids) * present).sum(-2) / present.sum(-2).clamp_min(1.0)


class HistoryLookups(nn.Module):
    """Features of the user's history items that their ids alone do not carry: each item's topic,
    creator and (with a boards dataset) boards, looked up in tables baked into the model (no new
    ONNX input; the catalog as of the end of the window), embedded with the item tower's tables.
    Pooled over the whole history (the history weights) and over the newest `recent` slots."""

    def __init__(self, ds, n_vocab, item_tower, names, recent):
        super().__init__()
        self.names = list(names)
        self.recent = recent
        # The item tower's own tables (shared, registered here too so that export traces them as weights).
        self.tables = nn.ModuleDict({n: {"topic": item_tower.topic, "creator": item_tower.creator, BOARDS_INPUT: item_tower.board}[n] for n in self.names})
        for n in self.names:
            self.register_buffer(f"of_{n}", item_lookup(ds, n, n_vocab))
        self.width = sum(self.tables[n].embedding_dim for n in self.names) * (2 if recent > 0 else 1)

    def forward(self, hist_items, w, total):
        per_item = []
        for n in self.names:
            ids = getattr(self, f"of_{n}")[hist_items]
            per_item.append(pool_boards(self.tables[n], ids) if n == BOARDS_INPUT else self.tables[n](ids))
        x = torch.cat(per_item, dim=-1)
        out = [(x * w).sum(1) / (total + 1e-6)]
        if self.recent > 0:
            present = (hist_items[:, : self.recent] > 0).to(x.dtype).unsqueeze(-1)
            out.append((x[:, : self.recent] * present).sum(1) / present.sum(1).clamp_min(1.0))
        return torch.cat(out, dim=1)


class UserTower(nn.Module):
    def __init__(self, card, emb, hidden, dim, item_table=None, pooling="absolute", recency_power=1.0, ignore=(),
                 lookups=None):
        super().__init__()
        self.keep = keep_factors(ignore)
        self.pooling = pooling
        self.recency_power = recency_power
        self.hist = history_table(card, emb, item_table)
        self.side = SideFeatures(card, self.keep)
        self.lookups = lookups
        width = self.hist.embedding_dim + SideFeatures.WIDTH + 1 + (lookups.width if lookups is not None else 0)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def history_weights(self, hist_items, hist_weights):
        if self.pooling == "absolute":
            return hist_weights
        # Relative to the user's largest weight: the same history weighs the same whether the user
        # acted an hour or a month before the request. All-zero weights (underflow) = plain mean.
        present = (hist_items > 0).to(hist_weights.dtype)
        if self.recency_power == 0:
            # A plain mean; hist_weights * 0 keeps it an input of the exported graph (the interface).
            return present + hist_weights * 0.0
        top = hist_weights.max(dim=1, keepdim=True).values
        rel = hist_weights / torch.where(top > 0, top, torch.ones_like(top))
        rel = torch.where(top > 0, rel, present)
        if self.recency_power != 1.0:
            rel = rel.clamp_min(0) ** self.recency_power
        return rel * present

    def forward(self, hist_items, hist_weights, follow_creators, topics, locale, hour):
        w = self.history_weights(hist_items, hist_weights).unsqueeze(-1)
        total = w.sum(1)
        pooled = (self.hist(hist_items) * w).sum(1) / (total + 1e-6)
        parts = [pooled, self.side(follow_creators, topics, locale, hour), torch.log1p(total)]
        if self.lookups is not None:
            parts.append(self.lookups(hist_items, w, total))
        return F.normalize(self.mlp(torch.cat(parts, dim=1)), dim=1, eps=1e-6)


def item_input_names(ds):
    """The item tower's inputs for this dataset: ITEM_INPUTS, then boards when the dataset has them."""
    return ITEM_INPUTS + [BOARDS_INPUT] if ds.has(f"items_{BOARDS_INPUT}") else list(ITEM_INPUTS)


class BoardPairs:
    """Samples (item row, another item row on the same board) pairs: a board membership uniformly
    (so each item by the number of its boards), then another item of that board uniformly."""

    def __init__(self, boards, rng):
        self.rng = rng
        rows, slots = np.nonzero(boards > 1)  # OOV boards (1) say nothing about which items go together
        ids = boards[rows, slots]
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        sizes = np.diff(np.r_[np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]), len(ids)])
        keep = np.repeat(sizes >= 2, sizes)
        ids, self.rows = ids[keep], rows[keep]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.r_[starts, len(ids)])
        self.start = np.repeat(starts, sizes)
        self.size = np.repeat(sizes, sizes)
        self.memberships = len(self.rows)

    def sample(self, n):
        m = self.rng.integers(0, self.memberships, n)
        other = self.start[m] + (self.rng.random(n) * (self.size[m] - 1)).astype(np.int64)
        other = other + (other >= m)  # skip the member itself
        return torch.from_numpy(self.rows[m].astype(np.int64)), torch.from_numpy(self.rows[other].astype(np.int64))


class ItemTower(nn.Module):
    """id, topic, creator, primary board, age and popularity embeddings (and, with_boards, the mean
    of the embeddings of every board the item is on, from the same board table; no boards = 0)
    -> MLP -> L2-normalized embedding."""

    def __init__(self, card, emb, hidden, dim, ignore=(), with_boards=False, board_width=16):
        super().__init__()
        self.keep = {n: 0.0 if n in ignore else 1.0 for n in ITEM_INPUTS + [BOARDS_INPUT]}
        self.with_boards = with_boards
        self.item = nn.Embedding(card["items"], emb, padding_idx=0)
        self.topic = nn.Embedding(card["topics"], 16, padding_idx=0)
        self.creator = nn.Embedding(card["creators"], 16, padding_idx=0)
        self.board = nn.Embedding(card["boards"], board_width, padding_idx=0)
        self.age = nn.Embedding(card["age"], 8)
        self.pop = nn.Embedding(card["pop"], 8)
        width = emb + 16 + 16 + board_width + 8 + 8 + (board_width if with_boards else 0)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, item, topic, creator, board, age_bucket, pop_bucket, boards=None):
        parts = [
            self.item(item) * self.keep["item"],
            self.topic(topic) * self.keep["topic"],
            self.creator(creator) * self.keep["creator"],
            self.board(board) * self.keep["board"],
            self.age(age_bucket) * self.keep["age_bucket"],
            self.pop(pop_bucket) * self.keep["pop_bucket"],
        ]
        if self.with_boards:
            parts.append(pool_boards(self.board, boards) * self.keep[BOARDS_INPUT])
        return F.normalize(self.mlp(torch.cat(parts, dim=1)), dim=1, eps=1e-6)


def tensors(ds, prefix, names, rows=None):
    out = []
    for n in names:
        a = ds[f"{prefix}{n}"]
        if rows is not None:
            a = a[rows]
        t = torch.from_numpy(np.ascontiguousarray(a))
        out.append(t.float() if n == "hist_weights" else t.long())
    return out


def embed_all(tower, ds, prefix, names, count, batch=4096, rows=None):
    outs = []
    with torch.no_grad():
        for start in range(0, count, batch):
            part = np.arange(start, min(count, start + batch)) if rows is None else rows[start : start + batch]
            outs.append(tower(*tensors(ds, prefix, names, part)))
    return torch.cat(outs) if outs else torch.zeros((0, 1))


def mean_pairwise_cosine(emb, limit, gen):
    n = emb.shape[0]
    if n < 2:
        return float("nan")
    if n > limit:
        emb = emb[torch.randperm(n, generator=gen)[:limit]]
        n = limit
    e = F.normalize(emb, dim=1)
    s = e.sum(0)
    return float(((s @ s) - (e * e).sum()) / (n * (n - 1)))


def evaluate(user_tower, item_tower, ds, ks, gen):
    """Recall@K of brute-force retrieval over the catalog for the held-out users, plus sanity metrics."""
    n_items = ds.meta["counts"]["items"]
    items = embed_all(item_tower, ds, "items_", item_input_names(ds), n_items)
    metrics = {
        "mean_item_norm": float(items.norm(dim=1).mean()),
        "item_mean_pairwise_cosine": mean_pairwise_cosine(items, 2000, gen),
        "catalog_items": n_items,
    }
    if not ds.has("val_hist_items"):
        return metrics, items, None
    n_users = ds["val_locale"].shape[0]
    users = embed_all(user_tower, ds, "val_", USER_INPUTS, n_users)
    metrics["mean_user_norm"] = float(users.norm(dim=-1).mean())
    metrics["user_mean_pairwise_cosine"] = mean_pairwise_cosine(users.reshape(-1, users.shape[-1]), 2000, gen)
    if users.dim() == 3:
        # How far apart one user's interests are (1 = the K collapsed into one).
        k = users.shape[1]
        s = users.sum(1)
        metrics["interest_mean_cosine"] = float((((s * s).sum(1) - k) / (k * (k - 1))).mean()) if k > 1 else 1.0
    t_off, t_rows = ds["val_target_offsets"], ds["val_target_rows"]
    x_off, x_rows = ds["val_exclude_offsets"], ds["val_exclude_rows"]
    freq = torch.from_numpy(ds["items_freq"]).float()
    kmax = min(max(ks), n_items)
    recall = {k: [] for k in ks}
    capped = {k: [] for k in ks}
    pop_recall = {k: [] for k in ks}
    covered = set()
    hit_pairs = []
    top_interest_share = []
    chunk = 1024 // (users.shape[1] if users.dim() == 3 else 1)
    for start in range(0, n_users, chunk):
        end = min(n_users, start + chunk)
        scores = interest_scores(users[start:end], items)
        pop_scores = freq.unsqueeze(0).repeat(end - start, 1)
        for i in range(start, end):
            excl = torch.from_numpy(x_rows[x_off[i] : x_off[i + 1]].astype(np.int64))
            scores[i - start, excl] = -math.inf
            pop_scores[i - start, excl] = -math.inf
        top = torch.topk(scores, kmax, dim=1).indices.numpy()
        if users.dim() == 3:
            # Which interest gives each top-100 item its score: the share of the most used one, per user.
            t100 = torch.from_numpy(top[:, : min(100, kmax)])
            won = torch.einsum("bkd,bnd->bkn", users[start:end], items[t100]).argmax(dim=1)
            counts = torch.zeros(end - start, users.shape[1]).scatter_add_(1, won, torch.ones_like(won, dtype=torch.float))
            top_interest_share.extend((counts.max(1).values / t100.shape[1]).tolist())
        pop_top = torch.topk(pop_scores, kmax, dim=1).indices.numpy()
        for i in range(start, end):
            targets = set(t_rows[t_off[i] : t_off[i + 1]].tolist())
            row, prow = top[i - start], pop_top[i - start]
            covered.update(row[: min(100, kmax)].tolist())
            top100 = set(row[: min(100, kmax)].tolist())
            hit_pairs.extend((int(t in top100), t) for t in targets)
            for k in ks:
                hits = len(targets.intersection(row[:k].tolist()))
                recall[k].append(hits / len(targets))
                # The split eval's recall@K: hits / min(K, held-out items).
                capped[k].append(hits / min(k, len(targets)))
                pop_recall[k].append(len(targets.intersection(prow[:k].tolist())) / len(targets))
    # Hit rate at 100 by the target item's number of training examples (which items the tower misses).
    n_train = ds["items_freq"]
    for lo, hi in FREQ_BANDS:
        band = [(i, t) for i, t in hit_pairs if lo <= n_train[t] < hi]
        name = f"{lo}" if hi == lo + 1 else (f"{lo}+" if hi == math.inf else f"{lo}-{hi - 1}")
        metrics[f"val_target_share_train_{name}"] = len(band) / max(1, len(hit_pairs))
        if band:
            metrics[f"val_hit_rate@100_train_{name}"] = sum(h for h, _ in band) / len(band)
    for k in ks:
        metrics[f"val_recall@{k}"] = float(np.mean(recall[k]))
        metrics[f"val_recall_capped@{k}"] = float(np.mean(capped[k]))
        metrics[f"popular_recall@{k}"] = float(np.mean(pop_recall[k]))
        metrics[f"random_recall@{k}"] = min(1.0, k / n_items)
    if top_interest_share:
        metrics["top_interest_share@100"] = float(np.mean(top_interest_share))
    metrics["val_users"] = n_users
    metrics["val_targets"] = int(t_rows.shape[0])
    metrics["coverage@100"] = len(covered) / n_items
    return metrics, items, users


def export(tower, names, output, example, path):
    tower.eval()
    torch.onnx.export(
        tower,
        tuple(example),
        path,
        input_names=names,
        output_names=[output],
        dynamic_axes={**{n: {0: "batch"} for n in names}, output: {0: "batch"}},
        opset_version=OPSET,
        do_constant_folding=True,
    )


def fit(args, ds, seed):
    """Trains one model (user tower, item tower) with this seed; returns its towers and what the
    report needs about the run (the local variables)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    card = ds.cardinalities()
    n = ds.meta["counts"]["train"]
    n_items = ds.meta["counts"]["items"]

    ignore = {name.strip() for name in args.ignore.split(",") if name.strip()}
    item_inputs = item_input_names(ds)
    unknown = ignore - set(USER_INPUTS) - set(item_inputs)
    # The sequence tower reads hist_weights as each slot's recency, which it can do without.
    history = {"hist_items"} if args.user_tower in ("sequence", "multi") else {"hist_items", "hist_weights"}
    if unknown or ignore & history:
        raise SystemExit(f"--ignore: cannot leave out {sorted(unknown or ignore & history)} (inputs: {USER_INPUTS + item_inputs})")
    loss_kind = args.loss or ("dense" if args.user_tower == "sequence" else "next")
    if loss_kind == "dense" and (args.negatives != "in-batch" or args.dense_positives < 1):
        raise SystemExit("--loss dense needs --negatives in-batch and --dense-positives >= 1")
    item_tower = ItemTower(card, args.emb, args.hidden, args.dim, ignore=ignore, with_boards=BOARDS_INPUT in item_inputs)
    if BOARDS_INPUT in item_inputs:
        log(args, f"item tower: every board of an item, {ds.meta['encoding']['inputs']['boardLen']} slots, mean-pooled")
    if args.id_init_std > 0:
        with torch.no_grad():
            item_tower.item.weight.normal_(0.0, args.id_init_std, generator=gen)
            item_tower.item.weight[0].zero_()
    item_table = item_tower.item if args.share_item_embedding else None
    lookup_names = [n.strip() for n in args.history_features.split(",") if n.strip()]
    bad = [n for n in lookup_names if n not in ("topic", "creator", BOARDS_INPUT) or (n == BOARDS_INPUT and n not in item_inputs)]
    if bad or (lookup_names and args.user_tower != "pooled"):
        raise SystemExit(f"--history-features: cannot look up {bad or lookup_names} (pooled user tower; topic, creator, and boards with a boards dataset)")
    if args.user_tower == "multi":
        user_tower = MultiInterestUserTower(
            card, args.emb, args.hidden, args.dim, args.interests, ds.meta["encoding"]["inputs"]["histLen"],
            item_table=item_table, ignore=ignore, with_mean=args.interest_mean,
            sharpness=args.interest_sharpness, source=args.interest_source,
        )
    elif args.user_tower == "sequence":
        seq_len = min(args.seq_len, ds.meta["encoding"]["inputs"]["histLen"])
        user_tower = SequenceUserTower(
            card, args.emb, args.hidden, args.dim, seq_len, item_table=item_table, layers=args.seq_layers,
            heads=args.seq_heads, readout=args.seq_readout, with_mean=args.seq_mean, ignore=ignore,
        )
    else:
        lookups = HistoryLookups(ds, card["items"], item_tower, lookup_names, args.history_recent) if lookup_names else None
        user_tower = UserTower(
            card, args.emb, args.hidden, args.dim, item_table=item_table,
            pooling=args.pooling, recency_power=args.recency_power, ignore=ignore, lookups=lookups,
        )
    params = list({id(p): p for p in list(user_tower.parameters()) + list(item_tower.parameters())}.values())
    opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)

    user_x = tensors(ds, "train_", USER_INPUTS)
    pos_row = torch.from_numpy(ds["train_pos_row"].astype(np.int64))
    catalog_x = tensors(ds, "items_", item_inputs)
    item_x = tensors(ds, "train_pos_", item_inputs) if args.positive_features == "event" else [x[pos_row] for x in catalog_x]
    freq = torch.from_numpy(ds["items_freq"].astype(np.float64))
    p_item = (freq / max(1.0, float(freq.sum()))).clamp_min(1.0 / max(1, n))
    batch = min(args.batch, n) if args.batch > 0 else min(512, max(64, n // 20), n)
    uniform = args.uniform_negatives
    logq_weight = 0.0 if args.no_logq else args.logq_weight
    full = args.negatives == "catalog"

    def log_q(rows, candidates):
        # Expected number of times the item is among a batch's candidates.
        return logq_weight * torch.log(candidates * p_item[rows] + uniform / n_items).float()

    def in_batch_loss(u, rows, v, owner=None):
        """Sampled softmax: the batch's other positives (and uniform catalog draws) as negatives.
        Row i pairs user embedding u[i] with its positive v[i]; with owner (dense loss), the other
        positives of the same example are not its negatives."""
        if u.dim() == 3 and args.interest_logit == "target":
            # ComiRec: each row's interest closest to its own positive scores every candidate.
            u = u[torch.arange(len(u)), (u @ v.unsqueeze(-1)).squeeze(-1).argmax(dim=1)]
        logits = interest_scores(u, v) / args.temperature
        if logq_weight:
            logits = logits - log_q(rows, len(rows)).unsqueeze(0)
        same = rows.unsqueeze(1) == rows.unsqueeze(0)
        if owner is not None:
            same |= owner.unsqueeze(1) == owner.unsqueeze(0)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, -1e9)
        if uniform > 0:
            neg = torch.randint(0, n_items, (uniform,), generator=gen)
            vn = item_tower(*[x[neg] for x in catalog_x])
            ln = interest_scores(u, vn) / args.temperature
            if logq_weight:
                ln = ln - log_q(neg, len(rows)).unsqueeze(0)
            ln = ln.masked_fill(rows.unsqueeze(1) == neg.unsqueeze(0), -1e9)
            logits = torch.cat([logits, ln], dim=1)
        return F.cross_entropy(logits, torch.arange(len(rows)))

    # Choosing the number of epochs: the newest examples (the dataset is in time order) are held out
    # and each epoch is scored by how often their engaged item is in the top 100 of the catalog.
    n_fit = n
    select = None
    if args.epochs <= 0:
        n_sel = min(MAX_SELECT_EXAMPLES, int(round(n * args.select_share)))
        if n_sel >= MIN_SELECT_EXAMPLES and n - n_sel >= batch:
            n_fit = n - n_sel
            rows = np.arange(n_fit, n)
            row_of_vocab = np.full(card["items"], -1, dtype=np.int64)
            ids = ds["items_item"].astype(np.int64)
            known = ids > 1
            row_of_vocab[ids[known]] = np.arange(n_items)[known]
            select = {"rows": rows, "pos": torch.from_numpy(ds["train_pos_row"][rows].astype(np.int64)), "hist": torch.from_numpy(row_of_vocab[ds["train_hist_items"][rows]])}
    max_epochs = args.max_epochs if select else (args.epochs if args.epochs > 0 else FALLBACK_EPOCHS)
    dense = None
    if loss_kind == "dense":
        if not ds.has("train_user"):
            raise SystemExit(f"--loss dense: dataset {args.data} has no train_user array (built by an older feedloom: rebuild it)")
        dense = DenseTargets(ds["train_user"], ds["train_time_ms"], n_fit, args.dense_window_days * 86_400_000)
        log(args, f"dense loss: {dense.mean_positives:.1f} positives per example within {args.dense_window_days:g} days")

    def select_recall():
        """Share of the held-out newest examples whose item is in the top 100 (their history left out)."""
        items = embed_all(item_tower, ds, "items_", item_inputs, n_items)
        users = embed_all(user_tower, ds, "train_", USER_INPUTS, len(select["rows"]), rows=select["rows"])
        k = min(100, n_items)
        hits = 0
        chunk = max(1, (1 << 24) // max(1, n_items * (users.shape[1] if users.dim() == 3 else 1)))
        for start in range(0, users.shape[0], chunk):
            scores = interest_scores(users[start : start + chunk], items)
            hist = select["hist"][start : start + chunk]
            r = torch.arange(hist.shape[0]).unsqueeze(1).expand_as(hist)
            ok = hist >= 0
            scores[r[ok], hist[ok]] = -math.inf
            top = torch.topk(scores, k, dim=1).indices
            hits += int((top == select["pos"][start : start + chunk].unsqueeze(1)).any(1).sum())
        return hits / users.shape[0]

    pairs = None
    if args.board_pairs > 0:
        if BOARDS_INPUT not in item_inputs:
            raise SystemExit(f"--board-pairs: dataset {args.data} has no items_boards (built without boards)")
        pairs = BoardPairs(ds[f"items_{BOARDS_INPUT}"], np.random.default_rng(seed + 1))
        log(args, f"co-board pairs: {pairs.memberships} board memberships, weight {args.board_pairs:g}")

    epoch_loss = []
    select_trace = []
    val_trace = []
    best = None
    steps = 0
    for epoch in range(max_epochs):
        user_tower.train()
        item_tower.train()
        order = torch.from_numpy(rng.permutation(n_fit))
        total, count = 0.0, 0
        for start in range(0, n_fit - batch + 1 if n_fit >= batch else 1, batch):
            idx = order[start : start + batch]
            ux = [x[idx] for x in user_x]
            if args.history_dropout > 0:
                drop = torch.rand(ux[0].shape, generator=gen) < args.history_dropout
                ux[0] = ux[0].masked_fill(drop, 0)
                ux[1] = ux[1].masked_fill(drop, 0.0)
            u = user_tower(*ux)
            rows = pos_row[idx]
            if dense is not None:
                examples, owner = dense.sample(idx, args.dense_positives, gen)
                loss = in_batch_loss(u[owner], pos_row[examples], item_tower(*[x[examples] for x in item_x]), owner)
            elif full:
                # Exact softmax over every catalog item (as of the end of training, as served).
                loss = F.cross_entropy(interest_scores(u, item_tower(*catalog_x)) / args.temperature, rows)
            else:
                ix = [x[idx] for x in item_x]
                if args.id_dropout > 0:
                    ix[0] = ix[0].masked_fill(torch.rand(ix[0].shape, generator=gen) < args.id_dropout, OOV)
                loss = in_batch_loss(u, rows, item_tower(*ix))
            if args.interest_diversity > 0 and u.dim() == 3 and u.shape[1] > 1:
                k = u.shape[1]
                s = u.sum(1)
                loss = loss + args.interest_diversity * (((s * s).sum(1) - k) / (k * (k - 1))).mean()
            if pairs is not None:
                a, b = pairs.sample(len(idx))
                va = item_tower(*[x[a] for x in catalog_x])
                vb = item_tower(*[x[b] for x in catalog_x])
                logits = (va @ vb.T / args.temperature).masked_fill((a.unsqueeze(1) == a.unsqueeze(0)) & ~torch.eye(len(a), dtype=torch.bool), -1e9)
                loss = loss + args.board_pairs * F.cross_entropy(logits, torch.arange(len(a)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            count += len(idx)
            steps += 1
        epoch_loss.append(total / max(1, count))
        note = ""
        if select or args.track_val:
            user_tower.eval()
            item_tower.eval()
        if select:
            select_trace.append(select_recall())
            note += f", newest-examples recall@100 {select_trace[-1]:.4f}"
        if args.track_val and ds.has("val_hist_items"):
            # Its own generator: tracking must not change the training run.
            m, _, _ = evaluate(user_tower, item_tower, ds, [100], torch.Generator().manual_seed(seed))
            val_trace.append(m["val_recall@100"])
            note += f", val recall@100 {val_trace[-1]:.4f}"
        log(args, f"epoch {epoch + 1}/{max_epochs}: loss {epoch_loss[-1]:.4f}{note}")
        if select:
            if best is None or select_trace[-1] > best[1]:
                best = (epoch + 1, select_trace[-1], copy.deepcopy(user_tower.state_dict()), copy.deepcopy(item_tower.state_dict()))
            elif epoch + 1 - best[0] >= args.patience:
                break
    if select:
        user_tower.load_state_dict(best[2])
        item_tower.load_state_dict(best[3])
        log(args, f"kept epoch {best[0]} (newest-examples recall@100 {best[1]:.4f})")
    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("args", "ds")})


class Ensemble(nn.Module):
    """Several towers as one: their unit embeddings side by side, divided by sqrt(count), so the
    output is a unit vector and a user-item dot product is the mean of the members' scores."""

    def __init__(self, towers):
        super().__init__()
        self.towers = nn.ModuleList(towers)

    def forward(self, *inputs):
        return torch.cat([t(*inputs) for t in self.towers], dim=1) / math.sqrt(len(self.towers))


def main(argv):
    args = parse_args(argv)
    started = time.time()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, args.threads))
    if args.ensemble < 1:
        raise SystemExit("--ensemble must be >= 1")
    if args.ensemble > 1 and args.user_tower == "multi":
        raise SystemExit("--ensemble: not with --user-tower multi (one model's K interests)")

    ds = Dataset(args.data)
    card = ds.cardinalities()
    n = ds.meta["counts"]["train"]
    n_items = ds.meta["counts"]["items"]
    log(args, f"{n} examples, {n_items} catalog items, vocab {card}")

    members = []
    for k in range(args.ensemble):
        if args.ensemble > 1:
            log(args, f"ensemble member {k + 1}/{args.ensemble} (seed {args.seed + k})")
        members.append(fit(args, ds, args.seed + k))
    r = members[0]
    user_tower = r.user_tower if len(members) == 1 else Ensemble([m.user_tower for m in members])
    item_tower = r.item_tower if len(members) == 1 else Ensemble([m.item_tower for m in members])
    gen = r.gen
    epoch_loss, select, best, select_trace, val_trace = r.epoch_loss, r.select, r.best, r.select_trace, r.val_trace
    steps, batch, uniform, logq_weight, loss_kind, dense = r.steps, r.batch, r.uniform, r.logq_weight, r.loss_kind, r.dense
    ignore, n_fit, item_inputs, lookup_names = r.ignore, r.n_fit, r.item_inputs, r.lookup_names
    train_seconds = time.time() - started

    user_tower.eval()
    item_tower.eval()
    metrics, items_emb, users_emb = evaluate(user_tower, item_tower, ds, [100, 500], gen)
    metrics["train_loss"] = epoch_loss[best[0] - 1] if select else (epoch_loss[-1] if epoch_loss else float("nan"))
    if any(not math.isfinite(v) for v in [metrics["mean_item_norm"], metrics["train_loss"]]):
        raise SystemExit("training diverged: non-finite loss or embeddings")

    os.makedirs(args.out, exist_ok=True)
    check_source = "val_" if users_emb is not None else "train_"
    n_check_users = min(CHECK_ROWS, ds[f"{check_source}locale"].shape[0])
    check_users = embed_all(user_tower, ds, check_source, USER_INPUTS, n_check_users)
    export(user_tower, USER_INPUTS, "user_embedding", tensors(ds, check_source, USER_INPUTS, np.arange(min(2, n_check_users))), os.path.join(args.out, "user_tower.onnx"))
    export(item_tower, item_inputs, "item_embedding", tensors(ds, "items_", item_inputs, np.arange(min(2, n_items))), os.path.join(args.out, "item_tower.onnx"))

    report_dir = os.path.dirname(os.path.abspath(args.report))
    np.save(os.path.join(report_dir, "check_user_embedding.npy"), check_users.numpy().astype(np.float32))
    np.save(os.path.join(report_dir, "check_item_embedding.npy"), items_emb[:CHECK_ROWS].numpy().astype(np.float32))
    if args.save_val_embeddings:
        np.save(os.path.join(report_dir, "catalog_item_embedding.npy"), items_emb.numpy().astype(np.float32))
        if users_emb is not None:
            np.save(os.path.join(report_dir, "val_user_embedding.npy"), users_emb.numpy().astype(np.float32))
    # A metric the data cannot give (e.g. a pairwise cosine over one held-out user) is absent, not NaN.
    metrics, absent = present_metrics(metrics)
    report = {
        "absent_metrics": absent,
        "dim": args.dim * len(members),
        "metrics": metrics,
        "training": {
            "seed": args.seed,
            "epochs": len(epoch_loss),
            "epochs_chosen": bool(select),
            "steps": steps,
            "batch": batch,
            "lr": args.lr,
            "temperature": args.temperature,
            "uniform_negatives": uniform,
            "logq": not args.no_logq,
            "logq_weight": logq_weight,
            "negatives": args.negatives,
            "user_tower": args.user_tower,
            "loss": loss_kind,
            **({"dense_window_days": args.dense_window_days, "dense_positives": args.dense_positives,
                "dense_mean_positives": round(dense.mean_positives, 2)} if dense else {}),
            **({"seq_len": r.user_tower.seq_len, "seq_layers": args.seq_layers, "seq_heads": args.seq_heads,
                "seq_readout": args.seq_readout, "seq_mean": args.seq_mean} if args.user_tower == "sequence" else {}),
            **({"interests": args.interests, "interest_logit": args.interest_logit, "interest_mean": args.interest_mean,
                "interest_sharpness": args.interest_sharpness, "interest_diversity": args.interest_diversity, "interest_source": args.interest_source} if args.user_tower == "multi" else {}),
            "pooling": args.pooling,
            "recency_power": args.recency_power,
            "ignore": sorted(ignore),
            "history_dropout": args.history_dropout,
            "positive_features": args.positive_features,
            "emb": args.emb,
            "item_inputs": item_inputs,
            "id_init_std": args.id_init_std,
            "id_dropout": args.id_dropout,
            "board_pairs": args.board_pairs,
            "history_features": lookup_names,
            "history_recent": args.history_recent,
            "share_item_embedding": args.share_item_embedding,
            "hidden": args.hidden,
            "threads": args.threads,
            "examples": n,
            "fit_examples": n_fit,
            "epoch_loss": epoch_loss,
            "selected_epoch": best[0] if select else None,
            **({"ensemble": len(members), "member_seeds": [args.seed + k for k in range(len(members))],
                "member_selected_epochs": [m.best[0] if m.select else None for m in members],
                "member_epoch_loss": [m.epoch_loss for m in members]} if len(members) > 1 else {}),
            "select_trace": select_trace,
            "val_trace": val_trace,
            "train_seconds": round(train_seconds, 2),
            "total_seconds": round(time.time() - started, 2),
            "torch": torch.__version__,
        },
        "check": {"users_from": check_source.rstrip("_"), "users": n_check_users, "items": min(CHECK_ROWS, n_items)},
    }
    write_report(args.report, report)
    log(args, f"done in {report['training']['total_seconds']} s: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if "recall" in k))


if __name__ == "__main__":
    main(sys.argv[1:])
