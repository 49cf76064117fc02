"""The text measures IFEval's checker relies on: words, sentences, tokens, language.

Sentences and word tokens come from NLTK's Punkt model for English (`punkt_tab`), read
from the dataset directory (`ifeval/nltk_data`, part of the kit), never downloaded;
languages come from langdetect, seeded so that a verdict never changes between runs.
Both libraries are the `[ifeval]` extra.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from evalpack.errors import UsageError

EXTRA_HINT = "pip install 'evalpack[ifeval]'  (nltk and langdetect)"
_WORD = re.compile(r"\w+")


def require_libraries() -> None:
    """Exit 2 before any request when the `[ifeval]` extra is not installed."""
    missing = []
    for module in ("nltk", "langdetect"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UsageError(f"ifeval needs {' and '.join(missing)}, which are not installed: {EXTRA_HINT}")


def use_nltk_data(directory: Path) -> None:
    """Make NLTK read its Punkt model from `directory` (first on its search path)."""
    import nltk

    path = str(directory)
    if nltk.data.path[:1] != [path]:
        if path in nltk.data.path:
            nltk.data.path.remove(path)
        nltk.data.path.insert(0, path)
        _punkt.cache_clear()


@lru_cache(maxsize=1)
def _punkt():
    from nltk.tokenize.punkt import PunktTokenizer

    try:
        return PunktTokenizer("english")
    except LookupError:
        raise UsageError("ifeval: NLTK's punkt_tab model for English is not in the dataset dir "
                         "(ifeval/nltk_data/tokenizers/punkt_tab/english/); restore it with "
                         "`evalpack pack`/`unpack`, nothing is downloaded at run time") from None


@lru_cache(maxsize=1)
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def count_words(text: str) -> int:
    """Runs of word characters (the checker's RegexpTokenizer(r"\\w+"))."""
    return len(_WORD.findall(text))


def count_sentences(text: str) -> int:
    return len(_punkt().tokenize(text))


def word_tokens(text: str) -> list[str]:
    """nltk.word_tokenize: Punkt sentences, then the improved Treebank word tokenizer."""
    tokenizer = _word_tokenizer()
    return [token for sentence in _punkt().tokenize(text) for token in tokenizer.tokenize(sentence)]


@lru_cache(maxsize=1)
def _seeded_langdetect():
    import langdetect
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0  # langdetect samples n-grams at random; a fixed seed fixes the verdict
    return langdetect


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code langdetect gives, or None when it cannot tell (no letters, ...)."""
    langdetect = _seeded_langdetect()
    try:
        return langdetect.detect(text)
    except langdetect.LangDetectException:
        return None
