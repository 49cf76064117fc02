"""The noise of the long-context category.

BFCL's multi_turn_long_context entries run the same backends with a
`long_context` flag that buries the useful data in noise: long file contents,
extra files in every leaf directory, thousands of watch-list symbols and
transactions, long manuals in vehicle replies, extra credit cards and bookings.

Upstream keeps that noise as constants in its `long_context.py`, and some
ground-truth answers quote it (a tweet listing the extra file names, a diff of
padded files). So the faithful noise is upstream's own: when the dataset
directory holds `long_context.json` (those constants converted to JSON, keys
named as upstream names them, see docs/bfcl.md) it is used. Without it a
generated stand-in of the same shape and size is used; every long-context entry
still runs, but the 17 whose ground truth quotes the noise cannot be matched.
"""

from __future__ import annotations

import random
import string
from functools import lru_cache

import json
from pathlib import Path

# Files whose tail the tasks read (`tail`, `diff`...): upstream leaves these without padding.
FILES_TAIL_USED = ("log.txt", "report.txt", "report.csv", "DataSet1.csv", "file1.txt",
                   "finance_report.txt", "config.py", "Q4_summary.doc", "file3.txt")
NOISE_FILE = "long_context.json"
# our key -> upstream constant name in long_context.json
UPSTREAM_NAMES = {
    "file_content": "FILE_CONTENT_EXTENSION", "populate_files": "POPULATE_FILE_EXTENSION",
    "files_tail_used": "FILES_TAIL_USED", "watch_list": "WATCH_LIST_EXTENSION",
    "technology": "TECHNOLOGY_EXTENSION", "automobile": "AUTOMOBILE_EXTENSION",
    "ma_5": "MA_5_EXTENSION", "ma_20": "MA_20_EXTENSION", "transactions": "TRANSACTION_HISTORY_EXTENSION",
    "order_detail": "ORDER_DETAIL_EXTENSION", "car_metadata": "CAR_STATUS_METADATA_EXTENSION",
    "weather": "LONG_WEATHER_EXTENSION", "parking_brake_manual": "PARKING_BRAKE_INSTRUCTION",
    "cities": "INTERMEDIARY_CITIES", "credit_cards": "CREDIT_CARD_EXTENSION",
    "bookings": "BOOKING_RECORD_EXTENSION",
}


def noise_path(root: Path) -> str | None:
    path = Path(root) / NOISE_FILE
    return str(path) if path.is_file() else None


@lru_cache(maxsize=4)
def load_noise(path: str | None) -> dict:
    """Upstream's noise from `path` when it exists, else the generated stand-in."""
    if path and Path(path).is_file():
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [name for name in UPSTREAM_NAMES.values() if name not in data]
        if not missing:
            # JSON has no Ellipsis; upstream's watch-list constant ends with a literal `...`
            return {key: _ellipsis(data[name]) for key, name in UPSTREAM_NAMES.items()} | {"source": path}
    return generated_noise()

_WORDS = ("the company revenue growth quarter margin market product customer service cost "
          "operating income strategy demand supply investment risk outlook annual report team "
          "sales region forecast capital expense segment performance digital platform expansion "
          "efficiency portfolio budget analysis review").split()


def _sentences(rng: random.Random, count: int) -> str:
    out = []
    for _ in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def _ticker(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(1, 5)))


def _ellipsis(value):
    if isinstance(value, list):
        return [Ellipsis if v == "..." else v for v in value]
    return value


@lru_cache(maxsize=None)
def generated_noise() -> dict:
    rng = random.Random(20240901)
    data: dict = {}
    data["file_content"] = " " + _sentences(rng, 30)
    data["files_tail_used"] = list(FILES_TAIL_USED)
    data["populate_files"] = [f"image_{rng.randrange(10**17, 10**19)}.jpg" for _ in range(30)]
    data["watch_list"] = [_ticker(rng) for _ in range(1000)]
    data["technology"] = [_ticker(rng) for _ in range(1000)]
    data["automobile"] = [_ticker(rng) for _ in range(1000)]
    data["ma_5"] = [round(rng.uniform(200, 250), 2) for _ in range(2000)]
    data["ma_20"] = [round(rng.uniform(200, 250), 2) for _ in range(2000)]
    data["transactions"] = list(
        {"type": rng.choice(("deposit", "withdrawal")), "amount": round(rng.uniform(100, 10000), 2),
         "timestamp": f"20{rng.randint(22, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                      f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"}
        for _ in range(1000))
    data["order_detail"] = {
        key: "{symbol} " + _sentences(rng, 6)
        for key in ("company_overview", "market_position", "recent_performance", "analyst_notes",
                    "risk_factors", "dividend_policy", "leadership", "outlook")}
    data["car_metadata"] = _sentences(rng, 60)
    data["parking_brake_manual"] = _sentences(rng, 90)
    data["weather"] = {f"-{d}_day": {"windSpeed": round(rng.uniform(0, 30), 1),
                                     "humidity": round(rng.uniform(20, 95), 1),
                                     "precipitation": round(rng.uniform(0, 20), 1),
                                     "uvIndex": rng.randint(0, 11),
                                     "visibility": round(rng.uniform(1, 10), 1),
                                     "airPressure": round(rng.uniform(990, 1030), 1),
                                     "dewPoint": round(rng.uniform(-5, 20), 1)} for d in range(1, 15)}
    syllables = ("ash", "brook", "clay", "dale", "elm", "fair", "glen", "haven", "iron", "oak",
                 "pine", "ridge", "stone", "vale", "well", "wood")
    data["cities"] = list(
        (rng.choice(("", "New ", "East ", "West ", "Old ", "Fort ")) +
         (rng.choice(syllables) + rng.choice(syllables)).capitalize()) for _ in range(800))
    cards = {}
    for _ in range(20):
        number = "".join(rng.choice(string.digits) for _ in range(16))
        cards[number] = {"card_number": number,
                         "expiration_date": f"{rng.randint(1, 12):02d}/{rng.randint(25, 30)}",
                         "cardholder_name": rng.choice(("Avery Lane", "Jordan Reed", "Casey Moss",
                                                         "Riley Hart", "Morgan Gray")),
                         "card_verification_number": rng.randint(100, 999),
                         "balance": float(rng.randint(1000, 20000))}
    data["credit_cards"] = cards
    airports = ("SFO", "LAX", "JFK", "ORD", "BOS", "RMS", "SBK", "MPC")
    card_ids = list(cards)
    data["bookings"] = {
        f"booking_{900 + i}": {"card_id": rng.choice(card_ids),
                               "travel_date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                               "travel_from": rng.choice(airports), "travel_to": rng.choice(airports),
                               "travel_class": rng.choice(("economy", "business", "first")),
                               "travel_cost": float(rng.randint(200, 2000)),
                               "transaction_id": f"trans_{900 + i}"} for i in range(15)}
    data["source"] = "generated"
    return data
