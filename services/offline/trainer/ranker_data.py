"""Reads the ranker dataset written by libs/ranking/dataset.ts and serves it in batches of requests.

A request (context) is one session: one user's sequence, shared by all the session's impressions
(examples). The sequence is gathered here from the action arrays: the newest seqLen actions before
the session, newest first, each with its gap to the session start in hours. The Ranker service builds
the same tensors from UserContext.recent_actions with libs/ranking/encoding.ts (encodeSequence).
"""
import json
import os

import numpy as np
import torch

from ranker_model import CAND_INPUTS

HOUR_MS = 3_600_000.0


class RankerData:
    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "dataset.json")) as f:
            self.meta = json.load(f)
        self.enc = self.meta["encoding"]
        self.seq_len = int(self.enc["seqLen"])
        self._arrays = {}
        self.act_item = self["act_item"]
        self.act_topic = self["act_topic"]
        self.act_type = self["act_type"]
        self.act_time = self["act_time_ms"]
        if self.act_item.shape[0] == 0:  # keep gathers valid on a world without actions
            self.act_item, self.act_topic, self.act_type, self.act_time = (np.zeros(1, a.dtype) for a in (self.act_item, self.act_topic, self.act_type, self.act_time))

    def __getitem__(self, name):
        if name not in self._arrays:
            entry = self.meta["arrays"].get(name)
            if entry is None:
                raise KeyError(f"dataset {self.dir} has no array {name}")
            self._arrays[name] = np.load(os.path.join(self.dir, entry["file"]))
        return self._arrays[name]

    def labels_kind(self):
        """"logged_impressions" (every shown item is an example), "replayed_candidates" (an imported log:
        the blender's replayed candidates, labelled by what the user did next; position is the pre-score
        place) or "sampled_negatives" (an imported log: interactions plus sampled negatives; no order exists)."""
        return self.meta.get("labels", {}).get("kind", "logged_impressions")

    def cardinalities(self):
        v = self.enc["vocab"]
        return {k: len(v[k]) for k in ("items", "topics", "creators", "locales", "sources")}

    def split(self, name):
        return Split(self, name)


class Split:
    def __init__(self, data, name):
        self.data = data
        self.name = name
        self.hist_start = data[f"{name}_ctx_hist_start"].astype(np.int64)
        self.hist_end = data[f"{name}_ctx_hist_end"].astype(np.int64)
        self.ctx_time = data[f"{name}_ctx_time_ms"].astype(np.float64)
        self.ctx_locale = data[f"{name}_ctx_locale"]
        self.ex_ctx = data[f"{name}_ex_ctx"].astype(np.int64)
        self.labels = data[f"{name}_ex_labels"].astype(np.float32)
        self.position = data[f"{name}_ex_position"]
        self.cand = [data[f"{name}_{k}"] for k in CAND_INPUTS]
        self.contexts = self.hist_end.shape[0]
        self.examples = self.ex_ctx.shape[0]
        # Examples are stored grouped by context, in context order.
        self.ex_start = np.searchsorted(self.ex_ctx, np.arange(self.contexts + 1), side="left")

    def sequences(self, ctx, length=None):
        """The seq_* tensors of the given contexts ([B, L], newest action first, 0-padded). L is the
        longest history in the batch (at most seqLen, at least 1) unless given: padding is masked,
        so any L that holds every history gives the same outputs (the service sends [1, max(1, n)])."""
        d = self.data
        end = self.hist_end[ctx]
        L = length or int(max(1, min(d.seq_len, (end - self.hist_start[ctx]).max(initial=0))))
        idx = end[:, None] - 1 - np.arange(L)[None, :]
        valid = idx >= self.hist_start[ctx][:, None]
        safe = np.where(valid, idx, 0)
        gap = np.maximum(0.0, self.ctx_time[ctx][:, None] - d.act_time[safe]) / HOUR_MS
        return (
            torch.from_numpy(np.where(valid, d.act_item[safe], 0).astype(np.int32)),
            torch.from_numpy(np.where(valid, d.act_topic[safe], 0).astype(np.int32)),
            torch.from_numpy(np.where(valid, d.act_type[safe], 0).astype(np.int32)),
            torch.from_numpy(np.where(valid, gap, 0.0).astype(np.float32)),
            torch.from_numpy(self.ctx_locale[ctx].astype(np.int32)),
        )

    def batch(self, ctx, length=None):
        """Contexts ctx (array) -> (seq tensors, candidate tensors, (user row, slot) per example, labels, example rows)."""
        rows = np.concatenate([np.arange(self.ex_start[c], self.ex_start[c + 1]) for c in ctx]) if len(ctx) else np.zeros(0, np.int64)
        counts = self.ex_start[ctx + 1] - self.ex_start[ctx]
        local = np.repeat(np.arange(len(ctx)), counts)
        slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        cand = [torch.from_numpy(np.ascontiguousarray(a[rows])) for a in self.cand]
        return self.sequences(ctx, length), cand, (torch.from_numpy(local), torch.from_numpy(slot)), torch.from_numpy(self.labels[rows]), rows

    def batches(self, contexts_per_batch, order=None):
        order = np.arange(self.contexts) if order is None else order
        for start in range(0, len(order), contexts_per_batch):
            yield self.batch(order[start : start + contexts_per_batch])
