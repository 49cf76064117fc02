"""Synthetic IFEval responses, and a mock-server responder that replays them.

`response(record, variant)` builds a deterministic reply to one of the 541 real prompts from
its instructions' kwargs: for every instruction a part that meets it or misses it, usually
by one (exactly N words, N-1 sentences, N+1 bullets ...), then whole-reply changes (upper or
lower case, quotes, JSON, no commas), then wrappers that only the loose checker forgives
(a chatty first line, a closing line, markdown stars). Variant "comply" tries to meet
everything; the others pick at random per instruction. The replies exist to make the two
implementations disagree if they can: scripts/ifeval_agreement.py scores them with evalpack
and with lm-evaluation-harness and tests/fixtures/ifeval/upstream_verdicts.json keeps
lm-eval's verdicts, which tests/test_ifeval.py replays through `evalpack mock`.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DATASETS  # noqa: E402

VARIANTS = ("comply", "mixed", "wrapped")

FILLER = ("river stone light garden window morning paper table music orange bridge forest "
          "silver valley ocean letter camera pencil blanket mountain harbor lantern meadow").split()
LANGUAGE_TEXT = {
    "hi": "यह एक सुंदर दिन है और हम सब बाहर खेलने जा रहे हैं। मुझे किताबें पढ़ना बहुत पसंद है।",
    "kn": "ಇದು ಒಂದು ಸುಂದರವಾದ ದಿನ. ನಾನು ಪುಸ್ತಕಗಳನ್ನು ಓದಲು ಇಷ್ಟಪಡುತ್ತೇನೆ ಮತ್ತು ನಮ್ಮ ಊರು ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ.",
    "mr": "आज खूप छान दिवस आहे आणि आम्ही सर्व बाहेर खेळायला जात आहोत. मला पुस्तके वाचायला आवडतात.",
    "vi": "Hôm nay là một ngày đẹp trời và chúng tôi sẽ đi chơi ở công viên. Tôi rất thích đọc sách.",
    "ko": "오늘은 아주 좋은 날입니다. 우리는 공원에 가서 친구들과 함께 놀 것입니다.",
    "sw": "Leo ni siku nzuri sana na sisi sote tunakwenda kucheza nje. Ninapenda kusoma vitabu vingi.",
    "de": "Heute ist ein schöner Tag und wir gehen alle zusammen in den Park. Ich lese sehr gerne Bücher.",
    "pa": "ਅੱਜ ਬਹੁਤ ਸੋਹਣਾ ਦਿਨ ਹੈ ਅਤੇ ਅਸੀਂ ਸਾਰੇ ਬਾਹਰ ਖੇਡਣ ਜਾ ਰਹੇ ਹਾਂ। ਮੈਨੂੰ ਕਿਤਾਬਾਂ ਪੜ੍ਹਨੀਆਂ ਪਸੰਦ ਹਨ।",
    "fa": "امروز یک روز زیبا است و ما همه برای بازی به پارک می رویم. من خواندن کتاب را دوست دارم.",
    "ru": "Сегодня прекрасный день, и мы все идём гулять в парк. Я очень люблю читать книги.",
    "bg": "Днес е хубав ден и всички отиваме да играем в парка. Много обичам да чета книги.",
    "pt": "Hoje é um dia muito bonito e todos nós vamos passear no parque. Eu gosto muito de ler livros.",
    "gu": "આજે ખૂબ સુંદર દિવસ છે અને અમે બધા બહાર રમવા જઈએ છીએ. મને પુસ્તકો વાંચવા ગમે છે.",
    "te": "ఈ రోజు చాలా అందమైన రోజు మరియు మేము అందరం బయట ఆడుకోవడానికి వెళ్తున్నాము.",
    "it": "Oggi è una bellissima giornata e andiamo tutti a giocare nel parco. Mi piace molto leggere libri.",
    "ar": "اليوم يوم جميل جدا ونحن جميعا ذاهبون للعب في الحديقة. أنا أحب قراءة الكتب كثيرا.",
    "ta": "இன்று ஒரு அழகான நாள் நாங்கள் அனைவரும் வெளியே விளையாட போகிறோம். எனக்கு புத்தகங்கள் படிக்க பிடிக்கும்.",
    "fi": "Tänään on kaunis päivä ja menemme kaikki leikkimään puistoon. Pidän kovasti kirjojen lukemisesta.",
    "ur": "آج بہت خوبصورت دن ہے اور ہم سب باہر کھیلنے جا رہے ہیں۔ مجھے کتابیں پڑھنا بہت پسند ہے۔",
    "th": "วันนี้เป็นวันที่สวยงามมาก และพวกเราทุกคนจะไปเล่นที่สวนสาธารณะ ฉันชอบอ่านหนังสือมาก",
    "ne": "आज धेरै राम्रो दिन हो र हामी सबै बाहिर खेल्न जाँदैछौं। मलाई किताब पढ्न मन पर्छ।",
    "bn": "আজ খুব সুন্দর একটি দিন এবং আমরা সবাই বাইরে খেলতে যাচ্ছি। আমি বই পড়তে খুব ভালোবাসি।",
}


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(max(n, 0)))


def sentences(rng: random.Random, n: int) -> str:
    """n sentences to Punkt, some with abbreviations it knows (Dr., U.S.) that do not end one."""
    out = []
    for i in range(max(n, 0)):
        body = words(rng, rng.randint(3, 8)).capitalize()
        if rng.random() < 0.2:
            body = "Dr. Smith saw the " + body.lower()
        if rng.random() < 0.1:
            body += " in the U.S. capital"
        out.append(body + rng.choice(".!?" if rng.random() < 0.3 else "."))
    return " ".join(out)


def near(rng: random.Random, threshold: int, meet: bool, relation: str) -> int:
    """A count at or next to the threshold that meets (or misses) the relation."""
    if relation == "less than":
        return max(threshold - rng.choice((1, 2)), 0) if meet else threshold + rng.choice((0, 1))
    return threshold + rng.choice((0, 0, 1, 3)) if meet else max(threshold - rng.choice((1, 2)), 0)


# --- one part per instruction: (text to add, or a whole-reply transform) ---
def part(rng: random.Random, iid: str, kw: dict, meet: bool, prompt: str):
    kind = iid.split(":")[1]
    if kind == "existence":
        keys = list(kw["keywords"]) if meet else kw["keywords"][1:]
        return " ".join(k.upper() if rng.random() < 0.3 else k for k in keys) + "."
    if kind == "frequency":
        n = near(rng, kw["frequency"], meet, kw["relation"])
        glue = rng.choice((" ", " and ", "s "))  # "keywords" still contains the keyword
        return glue.join([kw["keyword"]] * n) + ("." if n else "")
    if kind == "forbidden_words":
        if meet:
            return words(rng, 3) + "."
        word = rng.choice(kw["forbidden_words"])
        return rng.choice((word, word.capitalize(), word + "!")) + " " + words(rng, 2) + "."
    if kind == "letter_frequency":
        return ("LETTER", kw["let_frequency"], kw["let_relation"], kw["letter"], meet)
    if kind == "response_language":
        return ("LANGUAGE", LANGUAGE_TEXT.get(kw["language"], "") if meet else "")
    if kind == "number_sentences":
        return sentences(rng, near(rng, kw["num_sentences"], meet, kw["relation"]))
    if kind == "number_paragraphs":
        n = kw["num_paragraphs"] + (0 if meet else rng.choice((-1, 1)))
        paras = [sentences(rng, 2) for _ in range(max(n, 1))]
        sep = rng.choice(("\n***\n", "\n\n***\n\n", " *** "))
        text = sep.join(paras)
        if not meet and rng.random() < 0.3:
            text = paras[0] + sep + sep + sep.join(paras[1:])  # an empty paragraph in the middle
        if rng.random() < 0.3:
            text = "***\n" + text
        return ("WHOLE_PARAGRAPHS", text)
    if kind == "number_words":
        return ("WORDS", near(rng, kw["num_words"], meet, kw["relation"]), kw["relation"])
    if kind == "nth_paragraph_first_word":
        n = kw["num_paragraphs"] + (0 if meet or rng.random() < 0.5 else rng.choice((-1, 1)))
        paras = [sentences(rng, 2) for _ in range(max(n, 1))]
        nth = kw["nth_paragraph"] - 1
        first = kw["first_word"] if meet or rng.random() < 0.5 else "banana"
        if nth < len(paras):
            paras[nth] = rng.choice(("{w} ", '"{w}," ', "{W}: ", "'{w}' ")).format(
                w=first, W=first.capitalize()) + paras[nth]
        return ("WHOLE_PARAGRAPHS_NN", "\n\n".join(paras) if rng.random() < 0.8 else "\n\n\n\n".join(paras))
    if kind == "number_placeholders":
        n = near(rng, kw["num_placeholders"], meet, "at least")
        return " ".join(f"[{rng.choice(FILLER)}]" for _ in range(n)) + rng.choice(("", " [ ]", " []"))
    if kind == "postscript":
        marker = kw["postscript_marker"]
        if not meet:
            return ("END", rng.choice(("PS thanks", "Post script: thanks", "")))
        forms = {"P.S.": ("P.S. thanks", "p.s. thanks", "P. S. see you")[rng.randrange(3)],
                 "P.P.S": ("P.P.S thanks", "p.p.s. later", "P. P. S bye")[rng.randrange(3)]}
        return ("END", forms.get(marker, marker + " thanks"))
    if kind == "number_bullet_lists":
        n = kw["num_bullets"] + (0 if meet else rng.choice((-1, 1)))
        return "\n".join(rng.choice(("* ", "- ", "  * ", "-")) + words(rng, 3) for _ in range(max(n, 0)))
    if kind == "constrained_response":
        return rng.choice(("My answer is yes.", "My answer is no.", "My answer is maybe.")) if meet else \
            rng.choice(("My answer is Yes", "Yes.", "my answer is no."))
    if kind == "number_highlighted_sections":
        n = near(rng, kw["num_highlights"], meet, "at least")
        return " ".join(rng.choice(("*{w}*", "**{w}**", "*{w} {w}*")).format(w=rng.choice(FILLER))
                        for _ in range(n)) + rng.choice(("", " * *", " ****"))
    if kind == "multiple_sections":
        n = near(rng, kw["num_sections"], meet, "at least")
        splitter = kw["section_spliter"]
        return "\n".join(f"{rng.choice((splitter, splitter, splitter.lower()))}"
                         f"{rng.choice((' ', ''))}{i + 1}\n{sentences(rng, 1)}" for i in range(n))
    if kind == "json_format":
        return ("JSON", meet)
    if kind == "title":
        return ("START", rng.choice(("<<A Song of {w}>>", "<<{w}>>")).format(w=rng.choice(FILLER))) if meet else \
            ("START", rng.choice(("<< >>", "<{w}>", "<<{w}\nrest>>")).format(w=rng.choice(FILLER)))
    if kind == "two_responses":
        a, b = sentences(rng, 2), sentences(rng, 2)
        if meet:
            return ("WHOLE", a + rng.choice(("\n******\n", " ****** ")) + b)
        return ("WHOLE", rng.choice((a + "\n******\n" + a, a + "\n******\n" + b + "\n******\n" + a,
                                     a + "\n*****\n" + b)))
    if kind == "repeat_prompt":
        text = kw["prompt_to_repeat"]
        return ("START", rng.choice((text, text.upper(), "  " + text)) if meet else "Sure. " + text)
    if kind == "end_checker":
        phrase = kw["end_phrase"]
        return ("END", rng.choice((phrase, phrase.lower(), '"' + phrase + '"')) if meet else
                rng.choice((phrase + " Thanks.", phrase[:-1] + "!")))
    if kind == "quotation":
        return ("QUOTE", meet)
    if kind == "capital_word_frequency":
        n = near(rng, kw["capital_frequency"], meet, kw["capital_relation"])
        return ("CAPS", " ".join(rng.choice(("NOTE", "IMPORTANT", "U.S.", "WELL-KNOWN", "OK"))
                                 for _ in range(n)) + ".")
    if kind == "english_capital":
        return ("UPPER", meet)
    if kind == "english_lowercase":
        return ("LOWER", meet)
    if kind == "no_comma":
        return ("COMMAS", meet)
    raise KeyError(iid)


def response(record: dict, variant: str) -> str:
    rng = random.Random(f"{record['key']}:{variant}")
    body: list[str] = []
    start: list[str] = []
    end: list[str] = []
    transforms: list[tuple] = []
    whole = None
    for iid, kw in zip(record["instruction_id_list"], record["kwargs"]):
        meet = True if variant == "comply" else rng.random() < 0.6
        got = part(rng, iid, kw, meet, record["prompt"])
        if isinstance(got, str):
            body.append(got)
        elif got[0] == "START":
            start.append(got[1])
        elif got[0] == "END":
            end.append(got[1])
        elif got[0] in ("WHOLE", "WHOLE_PARAGRAPHS", "WHOLE_PARAGRAPHS_NN"):
            whole = got[1]
        else:
            transforms.append(got)
    if not body and whole is None:
        body.append(sentences(rng, rng.randint(1, 4)))
    text = whole if whole is not None else "\n".join(body)
    if whole is not None and body:
        text = text + ("\n\n" if rng.random() < 0.5 else " ") + " ".join(body)
    for t in transforms:
        if t[0] == "WORDS":
            have = len(__import__("re").findall(r"\w+", text))
            text = text + " " + words(rng, t[1] - have) if t[1] > have else text
        if t[0] == "LANGUAGE" and t[1]:
            text = t[1] if rng.random() < 0.7 else t[1] + " " + text
        if t[0] == "CAPS":
            text = text + " " + t[1]
    text = "\n".join(start + [text] + end)
    for t in transforms:
        if t[0] == "LETTER":
            _, freq, relation, letter, meet = t
            have = text.lower().count(letter.lower())
            want = near(rng, freq, meet, relation)
            if want > have:
                text += " " + " ".join(letter * 1 for _ in range(want - have))
            elif want < have and relation == "less than":
                text = "".join(c for c in text if c.lower() != letter.lower()) + " " + letter * want
        elif t[0] == "UPPER":
            text = text.upper() if t[1] else text
        elif t[0] == "LOWER":
            text = text.lower() if t[1] else text.capitalize()
        elif t[0] == "COMMAS":
            text = text.replace(",", "") if t[1] else text + ", and so on"
        elif t[0] == "JSON":
            payload = json.dumps({"answer": text}, ensure_ascii=False)
            text = rng.choice((payload, "```json\n" + payload + "\n```", "```\n" + payload + "\n```")) if t[1] \
                else rng.choice((payload[:-1], "Here is the JSON: " + payload))
        elif t[0] == "QUOTE":
            text = '"' + text + '"' if t[1] else rng.choice(("'" + text + "'", '"' + text))
    if variant == "wrapped":
        if rng.random() < 0.6:
            text = rng.choice(("Sure! Here is my answer:", "**Answer**", "Of course, here you go.")) + "\n" + text
        if rng.random() < 0.5:
            text = text + "\n" + rng.choice(("Hope this helps!", "*Let me know*", "---"))
        if rng.random() < 0.3:
            text = text.replace("\n", "\n**", 1)
    return text


EDGE_CASES = ("", "   \n\t", "***", "******", "\"\"", "{}", "```json\n{}\n```", "<<>>", "P.S.",
              "A", "a b c", "\n\n\n", "HELLO WORLD", "hello world", "Ünïcödé façade — naïve café.",
              "* one\n* two\n* three", "- one\n- two", "SECTION 1\nSECTION 2", "[a] [b] [c] [d]",
              "My answer is yes.", "*a* *b* **c** ** **", "Dr. No. Mr. Yes. U.S. troops. 3.14 is pi.")


# ---------------- the mock server's side ----------------
_by_prompt: dict[str, dict] | None = None


def records() -> list[dict]:
    with open(DATASETS / "ifeval" / "input_data.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _record(body: dict) -> dict | None:
    global _by_prompt
    if _by_prompt is None:
        _by_prompt = {r["prompt"]: r for r in records()}
    user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return _by_prompt.get(user)


def comply(body: dict):
    r = _record(body)
    return response(r, "comply") if r else "unknown prompt"


def mixed(body: dict):
    r = _record(body)
    return response(r, "mixed") if r else "unknown prompt"


def wrapped(body: dict):
    r = _record(body)
    return response(r, "wrapped") if r else "unknown prompt"


def empty(body: dict):
    return ""


def think_decoy(body: dict):
    """The compliant reply inside <think>, the "mixed" one after it: only the latter counts."""
    r = _record(body)
    if not r:
        return "unknown prompt"
    return "<think>" + response(r, "comply") + "</think>\n" + response(r, "mixed")
