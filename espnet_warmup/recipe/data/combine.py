"""Combine prepared parts into the recipe's sets, keeping utterance ids unique.

Training parts of every corpus go into one ``train`` set and development parts into one
``dev`` set (ESPnet's --valid_set); every test part stays a set of its own so scoring
reports each. The language of each utterance travels in its text tag and utt2lang.
"""

from __future__ import annotations

from typing import Iterable

from espnet_warmup.recipe.data.base import Excluded, CorpusUtterance


def drop_duplicates(utts: Iterable[CorpusUtterance], where: str) -> tuple[list[CorpusUtterance], list[Excluded]]:
    """Keep the first utterance of each id; the others are excluded, naming the first one."""
    first: dict[str, CorpusUtterance] = {}
    dups: list[Excluded] = []
    for u in utts:
        if u.utt_id in first:
            dups.append(Excluded(u.utt_id, f"duplicate utterance id (first at {first[u.utt_id].source}){where}", u.source))
        else:
            first[u.utt_id] = u
    return list(first.values()), dups


def combine(parts: list[tuple[str, list[CorpusUtterance]]]) -> tuple[list[CorpusUtterance], list[Excluded]]:
    """Concatenate the parts ``[(part name, utterances)]``; duplicate ids across parts excluded."""
    return drop_duplicates((u for _, part in parts for u in part), " when combining")
