"""What both user towers (two_tower.py's pooled one, sequence_tower.py's) take beside the history:
the ONNX input names, and the followed creators, topics, locale and hour as one block of features."""
import torch
import torch.nn as nn

USER_INPUTS = ["hist_items", "hist_weights", "follow_creators", "topics", "locale", "hour"]
HOURS = 24


def keep_factors(ignore):
    """1 per user input, 0 for those left out by --ignore (still inputs of the exported graph)."""
    return {n: 0.0 if n in ignore else 1.0 for n in USER_INPUTS}


def history_table(card, emb, item_table):
    """The history items' id embeddings: the item tower's table (shared), or a table of their own."""
    return item_table if item_table is not None else nn.Embedding(card["items"], emb, padding_idx=0)


def masked_mean(emb, ids):
    mask = (ids > 0).unsqueeze(-1).to(emb.dtype)
    return (emb * mask).sum(1) / (mask.sum(1) + 1e-6)


class SideFeatures(nn.Module):
    """Mean of the followed creators' and of the topics' embeddings, locale and hour embeddings, each
    multiplied by its keep factor (0 = left out by --ignore, still an input of the graph)."""

    WIDTH = 16 + 16 + 8 + 8

    def __init__(self, card, keep):
        super().__init__()
        self.keep = keep
        self.follow = nn.Embedding(card["creators"], 16, padding_idx=0)
        self.topic = nn.Embedding(card["topics"], 16, padding_idx=0)
        self.locale = nn.Embedding(card["locales"], 8)
        self.hour = nn.Embedding(HOURS, 8)

    def forward(self, follow_creators, topics, locale, hour):
        return torch.cat(
            [
                masked_mean(self.follow(follow_creators), follow_creators) * self.keep["follow_creators"],
                masked_mean(self.topic(topics), topics) * self.keep["topics"],
                self.locale(locale) * self.keep["locale"],
                self.hour(hour) * self.keep["hour"],
            ],
            dim=1,
        )
