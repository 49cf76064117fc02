"""Filler for the long-context category.

BFCL's multi_turn_long_context entries run the same backends with a
`long_context` flag that buries the useful data in noise: long file contents,
extra files in every leaf directory, thousands of watch-list symbols and
transactions, long manuals in vehicle replies, extra credit cards and bookings.
The scoring compares the model's run with the ground-truth run on the same
backends, so what matters is the shape and the size of the noise, not its
exact text. This module generates comparable noise deterministically (fixed
seed); sizes are of the same order as upstream's.
"""

from __future__ import annotations

import random
import string
from functools import lru_cache

# Files whose tail the tasks read (`tail`, `diff`...): upstream leaves these without filler.
FILES_TAIL_USED = frozenset({"log.txt", "report.txt", "report.csv", "DataSet1.csv", "file1.txt",
                             "finance_report.txt", "config.py", "Q4_summary.doc", "file3.txt"})

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


@lru_cache(maxsize=None)
def filler() -> dict:
    rng = random.Random(20240901)
    data: dict = {}
    data["file_content"] = " " + _sentences(rng, 30)
    data["populate_files"] = tuple(f"image_{rng.randrange(10**17, 10**19)}.jpg" for _ in range(32))
    data["watch_list"] = tuple(_ticker(rng) for _ in range(1000))
    data["technology"] = ("AAPL", "GOOG", "MSFT", "NVDA") + tuple(_ticker(rng) for _ in range(1000))
    data["automobile"] = ("TSLA", "F", "GM") + tuple(_ticker(rng) for _ in range(1000))
    data["ma_5"] = tuple(round(rng.uniform(200, 250), 2) for _ in range(2000))
    data["ma_20"] = tuple(round(rng.uniform(200, 250), 2) for _ in range(2000))
    data["transactions"] = tuple(
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
    data["cities"] = tuple(
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
    return data
