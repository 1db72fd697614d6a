#!/usr/bin/python3
"""Trains the two-tower retrieval model on a dataset built by libs/training/two-tower-dataset.ts.

    /usr/bin/python3 services/offline/trainer/two_tower.py --data DATASET_DIR --out ARTIFACT_DIR --report REPORT.json
        [--seed 7] [--epochs 5] [--dim 32] [--batch 0 (auto)] [--lr 0.003] [--temperature 0.1]

User tower: weighted mean of the recent engaged items' embeddings (weights = action weight x recency,
from the dataset), mean of followed creators' and topics' embeddings, locale and hour-of-day
embeddings -> MLP -> L2-normalized embedding. Item tower: id, topic, creator, board, age-bucket and
popularity-bucket embeddings -> MLP -> L2-normalized embedding.

Loss: sampled softmax over in-batch negatives (plus optional uniform catalog negatives), logits
divided by a temperature, with the logQ correction (the log of each candidate's expected count in a
batch, from the training frequency of the item) subtracted, and repeated items masked out.

Writes ARTIFACT_DIR/user_tower.onnx and ARTIFACT_DIR/item_tower.onnx (opset 17, dynamic batch;
inputs named as the dataset's arrays, outputs user_embedding / item_embedding [B, D]) and the
report: offline metrics on the held-out day, training details, and check embeddings of a few users
and items (check_*.npy next to the report) that the caller compares with onnxruntime's output.

Seeded and repeatable: same dataset + same seed + same thread count = the same model, bit for bit.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_json import present_metrics, write_report  # noqa: E402

USER_INPUTS = ["hist_items", "hist_weights", "follow_creators", "topics", "locale", "hour"]
ITEM_INPUTS = ["item", "topic", "creator", "board", "age_bucket", "pop_bucket"]
OPSET = 17
HOURS = 24
CHECK_ROWS = 64


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset directory (dataset.json + .npy files)")
    p.add_argument("--out", required=True, help="where user_tower.onnx and item_tower.onnx go")
    p.add_argument("--report", required=True, help="JSON report: metrics, training details")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--epochs", type=int, default=5, help="more overfits the item ids (small world: 5 → recall@100 0.39, 15 → 0.34)")
    p.add_argument("--dim", type=int, default=32, help="output embedding dimension")
    p.add_argument("--emb", type=int, default=32, help="id embedding width inside the towers")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=0, help="batch size; 0 = 512, smaller for small datasets (at least 20 steps an epoch)")
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--share-item-embedding", action="store_true", help="the user tower's history items use the item tower's id table")
    p.add_argument("--uniform-negatives", type=int, default=0, help="extra negatives per batch drawn uniformly from the catalog")
    p.add_argument("--no-logq", action="store_true", help="switch the logQ correction off (for comparison)")
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


def masked_mean(emb, ids):
    mask = (ids > 0).unsqueeze(-1).to(emb.dtype)
    return (emb * mask).sum(1) / (mask.sum(1) + 1e-6)


class UserTower(nn.Module):
    def __init__(self, card, emb, hidden, dim, item_table=None):
        super().__init__()
        self.hist = item_table if item_table is not None else nn.Embedding(card["items"], emb, padding_idx=0)
        self.follow = nn.Embedding(card["creators"], 16, padding_idx=0)
        self.topic = nn.Embedding(card["topics"], 16, padding_idx=0)
        self.locale = nn.Embedding(card["locales"], 8)
        self.hour = nn.Embedding(HOURS, 8)
        width = self.hist.embedding_dim + 16 + 16 + 8 + 8 + 1
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, hist_items, hist_weights, follow_creators, topics, locale, hour):
        w = hist_weights.unsqueeze(-1)
        total = w.sum(1)
        pooled = (self.hist(hist_items) * w).sum(1) / (total + 1e-6)
        x = torch.cat(
            [
                pooled,
                masked_mean(self.follow(follow_creators), follow_creators),
                masked_mean(self.topic(topics), topics),
                self.locale(locale),
                self.hour(hour),
                torch.log1p(total),
            ],
            dim=1,
        )
        return F.normalize(self.mlp(x), dim=1, eps=1e-6)


class ItemTower(nn.Module):
    def __init__(self, card, emb, hidden, dim):
        super().__init__()
        self.item = nn.Embedding(card["items"], emb, padding_idx=0)
        self.topic = nn.Embedding(card["topics"], 16, padding_idx=0)
        self.creator = nn.Embedding(card["creators"], 16, padding_idx=0)
        self.board = nn.Embedding(card["boards"], 16, padding_idx=0)
        self.age = nn.Embedding(card["age"], 8)
        self.pop = nn.Embedding(card["pop"], 8)
        width = emb + 16 + 16 + 16 + 8 + 8
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, item, topic, creator, board, age_bucket, pop_bucket):
        x = torch.cat(
            [self.item(item), self.topic(topic), self.creator(creator), self.board(board), self.age(age_bucket), self.pop(pop_bucket)],
            dim=1,
        )
        return F.normalize(self.mlp(x), dim=1, eps=1e-6)


def tensors(ds, prefix, names, rows=None):
    out = []
    for n in names:
        a = ds[f"{prefix}{n}"]
        if rows is not None:
            a = a[rows]
        t = torch.from_numpy(np.ascontiguousarray(a))
        out.append(t.float() if n == "hist_weights" else t.long())
    return out


def embed_all(tower, ds, prefix, names, count, batch=4096):
    outs = []
    with torch.no_grad():
        for start in range(0, count, batch):
            rows = np.arange(start, min(count, start + batch))
            outs.append(tower(*tensors(ds, prefix, names, rows)))
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
    items = embed_all(item_tower, ds, "items_", ITEM_INPUTS, n_items)
    metrics = {
        "mean_item_norm": float(items.norm(dim=1).mean()),
        "item_mean_pairwise_cosine": mean_pairwise_cosine(items, 2000, gen),
        "catalog_items": n_items,
    }
    if not ds.has("val_hist_items"):
        return metrics, items, None
    n_users = ds["val_locale"].shape[0]
    users = embed_all(user_tower, ds, "val_", USER_INPUTS, n_users)
    metrics["mean_user_norm"] = float(users.norm(dim=1).mean())
    metrics["user_mean_pairwise_cosine"] = mean_pairwise_cosine(users, 2000, gen)
    t_off, t_rows = ds["val_target_offsets"], ds["val_target_rows"]
    x_off, x_rows = ds["val_exclude_offsets"], ds["val_exclude_rows"]
    freq = torch.from_numpy(ds["items_freq"]).float()
    kmax = min(max(ks), n_items)
    recall = {k: [] for k in ks}
    pop_recall = {k: [] for k in ks}
    covered = set()
    for start in range(0, n_users, 1024):
        end = min(n_users, start + 1024)
        scores = users[start:end] @ items.T
        pop_scores = freq.unsqueeze(0).repeat(end - start, 1)
        for i in range(start, end):
            excl = torch.from_numpy(x_rows[x_off[i] : x_off[i + 1]].astype(np.int64))
            scores[i - start, excl] = -math.inf
            pop_scores[i - start, excl] = -math.inf
        top = torch.topk(scores, kmax, dim=1).indices.numpy()
        pop_top = torch.topk(pop_scores, kmax, dim=1).indices.numpy()
        for i in range(start, end):
            targets = set(t_rows[t_off[i] : t_off[i + 1]].tolist())
            row, prow = top[i - start], pop_top[i - start]
            covered.update(row[: min(100, kmax)].tolist())
            for k in ks:
                recall[k].append(len(targets.intersection(row[:k].tolist())) / len(targets))
                pop_recall[k].append(len(targets.intersection(prow[:k].tolist())) / len(targets))
    for k in ks:
        metrics[f"val_recall@{k}"] = float(np.mean(recall[k]))
        metrics[f"popular_recall@{k}"] = float(np.mean(pop_recall[k]))
        metrics[f"random_recall@{k}"] = min(1.0, k / n_items)
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


def main(argv):
    args = parse_args(argv)
    started = time.time()
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, args.threads))
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    ds = Dataset(args.data)
    card = ds.cardinalities()
    n = ds.meta["counts"]["train"]
    n_items = ds.meta["counts"]["items"]
    log(args, f"{n} examples, {n_items} catalog items, vocab {card}")

    item_tower = ItemTower(card, args.emb, args.hidden, args.dim)
    user_tower = UserTower(card, args.emb, args.hidden, args.dim, item_table=item_tower.item if args.share_item_embedding else None)
    params = list({id(p): p for p in list(user_tower.parameters()) + list(item_tower.parameters())}.values())
    opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)

    user_x = tensors(ds, "train_", USER_INPUTS)
    item_x = tensors(ds, "train_pos_", ITEM_INPUTS)
    pos_row = torch.from_numpy(ds["train_pos_row"].astype(np.int64))
    catalog_x = tensors(ds, "items_", ITEM_INPUTS)
    freq = torch.from_numpy(ds["items_freq"].astype(np.float64))
    p_item = (freq / max(1.0, float(freq.sum()))).clamp_min(1.0 / max(1, n))
    batch = min(args.batch, n) if args.batch > 0 else min(512, max(64, n // 20), n)
    uniform = args.uniform_negatives

    def log_q(rows):
        # Expected number of times the item is among a batch's candidates.
        return torch.log(batch * p_item[rows] + uniform / n_items).float()

    epoch_loss = []
    steps = 0
    for epoch in range(args.epochs):
        user_tower.train()
        item_tower.train()
        order = torch.from_numpy(rng.permutation(n))
        total, count = 0.0, 0
        for start in range(0, n - batch + 1 if n >= batch else 1, batch):
            idx = order[start : start + batch]
            u = user_tower(*[x[idx] for x in user_x])
            rows = pos_row[idx]
            v = item_tower(*[x[idx] for x in item_x])
            logits = u @ v.T / args.temperature
            if not args.no_logq:
                logits = logits - log_q(rows).unsqueeze(0)
            same = rows.unsqueeze(1) == rows.unsqueeze(0)
            same.fill_diagonal_(False)
            logits = logits.masked_fill(same, -1e9)
            if uniform > 0:
                neg = torch.randint(0, n_items, (uniform,), generator=gen)
                vn = item_tower(*[x[neg] for x in catalog_x])
                ln = u @ vn.T / args.temperature
                if not args.no_logq:
                    ln = ln - log_q(neg).unsqueeze(0)
                ln = ln.masked_fill(rows.unsqueeze(1) == neg.unsqueeze(0), -1e9)
                logits = torch.cat([logits, ln], dim=1)
            loss = F.cross_entropy(logits, torch.arange(len(idx)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            count += len(idx)
            steps += 1
        epoch_loss.append(total / max(1, count))
        log(args, f"epoch {epoch + 1}/{args.epochs}: loss {epoch_loss[-1]:.4f}")
    train_seconds = time.time() - started

    user_tower.eval()
    item_tower.eval()
    metrics, items_emb, users_emb = evaluate(user_tower, item_tower, ds, [100, 500], gen)
    metrics["train_loss"] = epoch_loss[-1] if epoch_loss else float("nan")
    if any(not math.isfinite(v) for v in [metrics["mean_item_norm"], metrics["train_loss"]]):
        raise SystemExit("training diverged: non-finite loss or embeddings")

    os.makedirs(args.out, exist_ok=True)
    check_source = "val_" if users_emb is not None else "train_"
    n_check_users = min(CHECK_ROWS, ds[f"{check_source}locale"].shape[0])
    check_users = embed_all(user_tower, ds, check_source, USER_INPUTS, n_check_users)
    export(user_tower, USER_INPUTS, "user_embedding", tensors(ds, check_source, USER_INPUTS, np.arange(min(2, n_check_users))), os.path.join(args.out, "user_tower.onnx"))
    export(item_tower, ITEM_INPUTS, "item_embedding", tensors(ds, "items_", ITEM_INPUTS, np.arange(min(2, n_items))), os.path.join(args.out, "item_tower.onnx"))

    report_dir = os.path.dirname(os.path.abspath(args.report))
    np.save(os.path.join(report_dir, "check_user_embedding.npy"), check_users.numpy().astype(np.float32))
    np.save(os.path.join(report_dir, "check_item_embedding.npy"), items_emb[:CHECK_ROWS].numpy().astype(np.float32))
    # A metric the data cannot give (e.g. a pairwise cosine over one held-out user) is absent, not NaN.
    metrics, absent = present_metrics(metrics)
    report = {
        "absent_metrics": absent,
        "dim": args.dim,
        "metrics": metrics,
        "training": {
            "seed": args.seed,
            "epochs": args.epochs,
            "steps": steps,
            "batch": batch,
            "lr": args.lr,
            "temperature": args.temperature,
            "uniform_negatives": uniform,
            "logq": not args.no_logq,
            "emb": args.emb,
            "share_item_embedding": args.share_item_embedding,
            "hidden": args.hidden,
            "threads": args.threads,
            "examples": n,
            "epoch_loss": epoch_loss,
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
