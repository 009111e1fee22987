"""Words of the knowledge base: jieba's search segmentation (loaded once, at start-up), lowercased,
without function words and overlong runs, the same for what is indexed and what is searched."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings

# Function words that would only make an all-words query miss; left out of the index as well.
STOP_WORDS = frozenset({
    "的", "地", "得", "了", "着", "过", "和", "与", "及", "或", "在", "是", "把", "被", "对", "将", "也", "都",
    "就", "而", "并", "之", "其",
    "a", "an", "and", "or", "not", "the", "of", "to", "in", "on", "at", "for", "is", "are", "was", "were",
    "be", "by", "with", "as",
})

WORD_MAX = 64  # longer "words" (hashes, pasted junk) are neither indexed nor searched
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits; the underscore splits words

_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():
    """jieba's tokenizer, loaded on first use: the import and the dictionary take about a second."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                with warnings.catch_warnings():
                    # jieba 0.42 has invalid escape sequences in its regexes and imports
                    # pkg_resources: warnings about jieba's own code, not ours.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", SyntaxWarning)
                    warnings.simplefilter("ignore", UserWarning)
                    import jieba
                    # It logs at DEBUG to its own stderr handler ("Building prefix dict ...").
                    logging.getLogger("jieba").setLevel(logging.WARNING)
                    jieba.dt.initialize()
                _jieba = jieba.dt
    return _jieba


def load_segmenter() -> None:
    """Load jieba's dictionary now, at start-up, so the first lesson or search does not wait for it."""
    _segmenter()


def segment(value: str) -> list[str]:
    """The words of `value`, lowercased, in order, repeats kept: what is indexed and searched.

    Full-width letters and digits are folded to ASCII first (NFKC), so ＡＩ and AI are one word.
    """
    folded = unicodedata.normalize("NFKC", value).lower()
    words: list[str] = []
    for piece in _segmenter().cut_for_search(folded):
        for word in _WORD.findall(piece):
            if len(word) <= WORD_MAX and word not in STOP_WORDS:
                words.append(word)
    return words


def indexed_text(title: str, body: str, tags: list[str]) -> str:
    return " ".join(segment(title) + segment(body) + segment(" ".join(tags)))
