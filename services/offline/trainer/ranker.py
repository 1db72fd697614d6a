#!/usr/bin/python3
"""Trains the transformer ranker on a dataset built by libs/ranking/dataset.ts (see ranker_model.py).

    /usr/bin/python3 services/offline/trainer/ranker.py --data DATASET_DIR --out ARTIFACT_DIR --report REPORT.json
        [--variant sequence|no_sequence|early_fusion] [--epochs 4] [--seed 7] [--d 32] [--layers 2] ...

Multi-task: click, save and hide heads, each a binary cross-entropy, combined with per-head weights
(--head-weights click,save,hide). Ids are randomly replaced by the unknown id during training
(items, sources) so that new items and generators the log never saw get a trained embedding.

Writes ARTIFACT_DIR/ranker.onnx (opset 17: one user's [1, L] sequence and N candidates in, p_click,
p_save, p_hide [N] out; N dynamic) and ARTIFACT_DIR/probe.json (a few held-out requests' input
tensors and PyTorch's outputs: the Ranker service refuses a model whose ONNX graph does not
reproduce them), and the report: held-out metrics (AUC per head, HIT@3 on saves) next to the
incumbent's position order and popularity order, and training details.

Seeded and repeatable: same dataset + seed + thread count = the same model.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ranker_data import RankerData  # noqa: E402
from ranker_metrics import auc, hit_at_k  # noqa: E402
from ranker_model import CAND_INPUTS, OUTPUTS, SEQ_INPUTS, VARIANTS, Ranker, Serving, listwise_softmax, weighted_bce  # noqa: E402
from report_json import present_metrics, write_report  # noqa: E402

OPSET = 17
HEADS = ["click", "save", "hide"]
OOV = 1


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset directory (dataset.json + .npy files)")
    p.add_argument("--out", required=True, help="where ranker.onnx and probe.json go")
    p.add_argument("--report", required=True, help="JSON report: metrics, training details")
    p.add_argument("--variant", choices=VARIANTS, default="sequence")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--d", type=int, default=32, help="model width")
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--ff", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=64, help="requests (sessions) per batch")
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--weight-decay", type=float, default=1e-5)
    p.add_argument("--head-weights", default="1,2,1", help="loss weight of the click, save and hide heads")
    p.add_argument("--item-dropout", type=float, default=0.1, help="chance a candidate's item id is trained as unknown")
    p.add_argument("--source-dropout", type=float, default=0.2, help="chance a proposal's generator is trained as unknown")
    p.add_argument("--min-steps", type=int, default=0, help="train for more epochs than --epochs if that many optimizer steps need them (a dataset of few requests)")
    p.add_argument("--max-train-seconds", type=float, default=0, help="stop early after this long (0 = no limit)")
    p.add_argument("--skip-eval", action="store_true", help="no held-out metrics (for latency benchmarks of briefly trained models)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)")
    p.add_argument("--source-pairs", action="store_true", help="embed each (generator, rank bucket) pair and sum over every proposal (replayed candidates: which generator ranked the item where)")
    p.add_argument("--source-ranks", action="store_true", help="also read, per generator, whether it proposed the candidate and its reciprocal rank (a learned rank fusion)")
    p.add_argument("--prescore-place", action="store_true", help="also read each candidate's place in its request (replayed candidates come in the blender's pre-score order, as at serving)")
    p.add_argument("--listwise", type=float, default=0.0, help="weight of a listwise loss beside the per-head BCE: the softmax over each request's candidates of the click and save logits, at each engaged one (the page is the top of a request: replayed candidates)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def log(args, *parts):
    if not args.quiet:
        print("[ranker]", *parts, file=sys.stderr, flush=True)


def id_dropout(t, p, gen):
    if p <= 0:
        return t
    drop = (torch.rand(t.shape, generator=gen) < p) & (t > 0)
    return torch.where(drop, torch.full_like(t, OOV), t)


def predict(model, split, batch=256):
    """Probabilities [E, 3] for every example of a split, in example order."""
    model.eval()
    out = np.zeros((split.examples, 3), dtype=np.float32)
    with torch.no_grad():
        for seq, cand, where, _, rows in split.batches(batch):
            out[rows] = torch.sigmoid(model(seq, cand, *where)).numpy()
    return out


def evaluate(split, scores, prefix=""):
    groups = list(zip(split.ex_start[:-1], split.ex_start[1:]))
    m = {}
    for h, head in enumerate(HEADS):
        m[f"{prefix}auc_{head}"] = auc(scores[:, h], split.labels[:, h])
    m[f"{prefix}hit3_save"], sessions = hit_at_k(scores[:, 1], split.labels[:, 1], groups, 3)
    return m, sessions


# The order the examples came in, where there is one: the incumbent's pages, or the blender's pre-score order of replayed candidates.
ORDER_BASELINE = {"logged_impressions": "position", "replayed_candidates": "prescore"}


def baselines(split, order=None):
    """The examples' own order (named `order`: position or prescore; none on sampled negatives) and popularity order, scored like a model."""
    pos = -split.position.astype(np.float64)
    pop = split.cand[CAND_INPUTS.index("cand_popularity")].astype(np.float64)
    m = {}
    for name, s in (((order, pos),) if order else ()) + (("popularity", pop),):
        scores = np.repeat(s[:, None], 3, axis=1)
        m.update(evaluate(split, scores, prefix=f"{name}_")[0])
    return m


def export(model, split, path):
    """ranker.onnx: the one-user graph (Serving), traced on a held-out request with a full-length sequence."""
    serving = Serving(model).eval()
    seq, cand, _, _, _ = split.batch(np.array([int(np.argmax(split.ex_start[1:] - split.ex_start[:-1]))]), length=split.data.seq_len)
    names = SEQ_INPUTS + CAND_INPUTS
    # N candidates and the sequence length are dynamic (a user with 3 actions is sent [1, 3]).
    dynamic = {n: {0: "candidates"} for n in CAND_INPUTS}
    dynamic.update({n: {1: "actions"} for n in SEQ_INPUTS if n != "user_locale"})
    dynamic.update({o: {0: "candidates"} for o in OUTPUTS})
    with torch.no_grad():
        torch.onnx.export(serving, tuple(seq) + tuple(cand), path, input_names=names, output_names=OUTPUTS, dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)


def probes(model, split, count=3):
    """A few held-out requests (the longest history, an empty one, a typical one) and PyTorch's answers."""
    serving = Serving(model).eval()
    hist = split.hist_end - split.hist_start
    picks = [int(np.argmax(hist))]
    empty = np.flatnonzero(hist == 0)
    if empty.size:
        picks.append(int(empty[0]))
    picks.append(int(split.contexts // 2))
    out = []
    for c in dict.fromkeys(picks[:count]):
        seq, cand, _, _, _ = split.batch(np.array([c]), length=split.data.seq_len if c == picks[0] else None)
        with torch.no_grad():
            p = serving(*seq, *cand)
        tensors = {}
        for name, t in zip(SEQ_INPUTS + CAND_INPUTS, list(seq) + list(cand)):
            tensors[name] = {"type": "int32" if t.dtype == torch.int32 else "float32", "dims": list(t.shape), "data": t.reshape(-1).tolist()}
        out.append({"inputs": tensors, "outputs": {o: v.tolist() for o, v in zip(OUTPUTS, p)}})
    return out


def main(argv):
    args = parse_args(argv)
    started = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, args.threads))
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    data = RankerData(args.data)
    train, val = data.split("train"), data.split("val")
    card = data.cardinalities()
    log(args, f"{args.variant} ({data.labels_kind()}): {train.contexts} train requests / {train.examples} impressions, {val.contexts} held-out requests / {val.examples}; vocab {card}")

    model = Ranker(card, data.enc["buckets"], variant=args.variant, d=args.d, heads=args.heads, layers=args.layers, ff=args.ff, hidden=args.hidden, dropout=args.dropout, seq_len=data.seq_len, source_pairs=args.source_pairs, source_ranks=args.source_ranks, prescore_place=args.prescore_place)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    head_weights = torch.tensor([float(x) for x in args.head_weights.split(",")], dtype=torch.float32)
    if head_weights.shape[0] != 3:
        raise SystemExit("--head-weights needs three numbers: click,save,hide")
    steps_per_epoch = math.ceil(train.contexts / args.batch)
    epochs = max(args.epochs, math.ceil(args.min_steps / max(1, steps_per_epoch)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(1, steps_per_epoch * epochs), pct_start=0.1)

    epoch_loss, epoch_val = [], []
    steps, stopped_early = 0, False
    item_col, src_col = CAND_INPUTS.index("cand_item"), CAND_INPUTS.index("cand_source")
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for seq, cand, where, labels, _ in train.batches(args.batch, rng.permutation(train.contexts)):
            cand[item_col] = id_dropout(cand[item_col], args.item_dropout, gen)
            cand[src_col] = id_dropout(cand[src_col], args.source_dropout, gen)
            seq = (id_dropout(seq[0], args.item_dropout / 2, gen),) + tuple(seq[1:])
            logits = model(seq, cand, *where)
            loss, _ = weighted_bce(logits, labels, head_weights)
            if args.listwise:
                loss = loss + args.listwise * listwise_softmax(logits, labels, where[0])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss) * labels.shape[0]
            count += labels.shape[0]
            steps += 1
            if args.max_train_seconds and time.time() - started > args.max_train_seconds:
                stopped_early = True
                break
        epoch_loss.append(total / max(1, count))
        m = {} if args.skip_eval else present_metrics(evaluate(val, predict(model, val))[0])[0]
        epoch_val.append(m)
        log(args, f"epoch {epoch + 1}/{epochs}: loss {epoch_loss[-1]:.4f}  held-out " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()) + f"  ({time.time() - started:.0f} s)")
        if stopped_early:
            break
    train_seconds = time.time() - started

    metrics = {"train_loss": epoch_loss[-1] if epoch_loss else float("nan")}
    if not args.skip_eval:
        scores = predict(model, val)
        heldout, save_sessions = evaluate(val, scores)
        metrics.update(heldout)
        metrics.update(baselines(val, order=ORDER_BASELINE.get(data.labels_kind())))
        metrics.update({"val_requests": val.contexts, "val_impressions": val.examples, "val_requests_with_save": save_sessions})
        if not np.isfinite(scores).all():
            raise SystemExit("training diverged: non-finite scores")
    if not math.isfinite(metrics["train_loss"]):
        raise SystemExit("training diverged: non-finite loss")
    # e.g. auc_hide on a log without hides: absent, not NaN.
    metrics, absent = present_metrics(metrics)

    os.makedirs(args.out, exist_ok=True)
    export(model, val, os.path.join(args.out, "ranker.onnx"))
    with open(os.path.join(args.out, "probe.json"), "w") as f:
        json.dump({"tolerance": 2e-4, "requests": probes(model, val)}, f, allow_nan=False)

    report = {
        "variant": args.variant,
        "metrics": metrics,
        "absent_metrics": absent,
        "onnx": {"opset": OPSET, "file": "ranker.onnx", "inputs": SEQ_INPUTS + CAND_INPUTS, "outputs": OUTPUTS},
        "training": {
            "variant": args.variant,
            "seed": args.seed,
            "epochs": len(epoch_loss),
            "epochs_asked": args.epochs,
            "min_steps": args.min_steps,
            "stopped_early": stopped_early,
            "steps": steps,
            "batch_requests": args.batch,
            "lr": args.lr,
            "d": args.d,
            "heads": args.heads,
            "layers": args.layers,
            "ff": args.ff,
            "hidden": args.hidden,
            "dropout": args.dropout,
            "head_weights": [float(x) for x in head_weights],
            "item_dropout": args.item_dropout,
            "source_dropout": args.source_dropout,
            "source_pairs": args.source_pairs,
            "source_ranks": args.source_ranks,
            "prescore_place": args.prescore_place,
            "threads": args.threads,
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_requests": train.contexts,
            "train_impressions": train.examples,
            "epoch_loss": epoch_loss,
            "epoch_heldout": epoch_val,
            "train_seconds": round(train_seconds, 2),
            "total_seconds": round(time.time() - started, 2),
            "torch": torch.__version__,
        },
    }
    write_report(args.report, report)
    log(args, f"done in {report['training']['total_seconds']} s: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))


if __name__ == "__main__":
    main(sys.argv[1:])
