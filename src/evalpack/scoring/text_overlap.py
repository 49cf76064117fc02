"""BLEU-1..4 and ROUGE-1/2/L recall, precision and F of a reply against its reference, as EvalScope
scores general_qa: text holding a Chinese character is segmented into words by jieba, other text
by NLTK's word tokenizer for BLEU and by whitespace for ROUGE; ROUGE is rouge-chinese's
(`Rouge().get_scores`), BLEU-n is NLTK's `sentence_bleu` with all weight on the n-gram order n
(no smoothing).

One difference from EvalScope, on purpose: NLTK's `word_tokenize` needs the Punkt sentence model,
which is a download; here sentences are split at ., ! or ? followed by a space before NLTK's
Treebank word tokenizer runs on each (the same tokens, except that Punkt keeps abbreviations like
"Mr." whole). The scorers are the `qa` extra (jieba, nltk, rouge-chinese).
"""

from __future__ import annotations

import logging
import re
import warnings

from evalpack.errors import UsageError

METRICS = tuple(f"Rouge-{n}-{s}" for n in ("1", "2", "L") for s in ("R", "P", "F")) + tuple(
    f"bleu-{n}" for n in range(1, 5))
_CJK = re.compile("[\u4e00-\u9fa5]")  # EvalScope's test for "contains Chinese"
# where Punkt would end a sentence: after . ! or ? and a space, not before a lower-case word, and not
# after an initial or a short abbreviation ("J. B. Rhine", "U.S. Civil", "St. John's", "Mr. Smith")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z])")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][a-z]?|(?:[A-Za-z]\.)+[A-Za-z]?|Mrs|Mr|Dr|Jr|Sr|St|vs|etc)\.$")
_scorers = None


def scorers():
    """(jieba, nltk word tokenizer, sentence_bleu, Rouge), or UsageError naming the extra."""
    global _scorers
    if _scorers is None:
        try:
            import jieba
            from nltk.tokenize import NLTKWordTokenizer
            from nltk.translate.bleu_score import sentence_bleu
            from rouge_chinese import Rouge
        except ImportError as e:
            raise UsageError(f"general_qa's BLEU and ROUGE are EvalScope's scorers, which need jieba, nltk "
                             f"and rouge-chinese ({e.name} is not installed): pip install 'evalpack[qa]'") from None
        jieba.setLogLevel(logging.WARNING)  # not "Building prefix dict..." on every run
        _scorers = (jieba, NLTKWordTokenizer(), sentence_bleu, Rouge())
    return _scorers


def tokens(text: str) -> list[str]:
    jieba, words, _, _ = scorers()
    if _CJK.search(text):
        return list(jieba.cut(text))
    return [t for sentence in sentences(text.strip()) for t in words.tokenize(sentence)]


def sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if not _ABBREVIATION.search(text[start:m.start()]):
            out.append(text[start:m.start()])
            start = m.end()
    return out + [text[start:]]


def overlap(prediction: str, reference: str) -> dict[str, float]:
    """Every metric of METRICS in 0..1; an empty prediction scores 0 on all of them."""
    _, _, sentence_bleu, rouge = scorers()
    scores = dict.fromkeys(METRICS, 0.0)
    hyp, ref = tokens(prediction), tokens(reference)
    if not hyp or not ref:
        return scores
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NLTK warns on every zero n-gram count
        for n in range(1, 5):
            scores[f"bleu-{n}"] = float(sentence_bleu([ref], hyp, weights=tuple(float(i == n - 1) for i in range(4))))
    # ROUGE sees jieba's words joined by spaces for Chinese text and the text itself otherwise
    # (rouge-chinese splits sentences at 。！？ and words at whitespace), as EvalScope passes them
    try:
        found = rouge.get_scores(_rouge_text(prediction), _rouge_text(reference))[0]
    except ValueError:  # a text of separators only: no words to count
        return scores
    for n, key in (("1", "rouge-1"), ("2", "rouge-2"), ("L", "rouge-l")):
        for stat in ("R", "P", "F"):
            scores[f"Rouge-{n}-{stat}"] = float(found[key][stat.lower()])
    return scores


def _rouge_text(text: str) -> str:
    jieba = scorers()[0]
    return " ".join(jieba.cut(text)) if _CJK.search(text) else text
