"""Offline topic suggestions: a small TF-IDF over topic names and keywords, scored against a lesson's free text.

Each topic is a document (its name, twice, and its keywords); the lesson's note and chat are the query. Cosine
similarity of TF-IDF vectors ranks topics; the tutor confirms. Stdlib only: no model, nothing downloaded."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at be by for from in into is it of on or the to with we did his her their our "
                  "was were this that then them they she he you your i me my more some very well good great".split())


def words(text: str) -> list[str]:
    """Lower-case word stems (a crude plural fold, so 'fractions' meets 'fraction')."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP or len(word) < 2:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


@dataclass(frozen=True)
class TopicText:
    """What the suggester knows of one topic."""

    topic_id: int
    name: str
    keywords: str


def suggest(topics: list[TopicText], text: str, limit: int = 5, threshold: float = 0.08) -> list[tuple[int, float]]:
    """(topic id, score) of the topics the text is most about, best first; only scores at or above `threshold`."""
    documents = {t.topic_id: Counter(words(f"{t.name} {t.name} {t.keywords}")) for t in topics}
    if not documents:
        return []
    frequency = Counter(word for counts in documents.values() for word in counts)
    total = len(documents)
    idf = {word: math.log((1 + total) / (1 + df)) + 1 for word, df in frequency.items()}
    query = Counter(w for w in words(text) if w in idf)
    if not query:
        return []
    q_vec = {w: c * idf[w] for w, c in query.items()}
    q_norm = math.sqrt(sum(v * v for v in q_vec.values()))
    scores = []
    for topic_id, counts in documents.items():
        d_vec = {w: c * idf[w] for w, c in counts.items()}
        d_norm = math.sqrt(sum(v * v for v in d_vec.values()))
        dot = sum(q_vec[w] * d_vec[w] for w in q_vec if w in d_vec)
        score = dot / (q_norm * d_norm) if dot else 0.0
        if score >= threshold:
            scores.append((topic_id, round(score, 4)))
    scores.sort(key=lambda pair: (-pair[1], pair[0]))
    return scores[:limit]
