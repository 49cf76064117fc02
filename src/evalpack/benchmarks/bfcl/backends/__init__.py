"""Simulated backends for BFCL multi-turn entries, by the class names the data uses."""

from __future__ import annotations

from evalpack.benchmarks.bfcl.backends.file_system import GorillaFileSystem
from evalpack.benchmarks.bfcl.backends.math_api import MathAPI
from evalpack.benchmarks.bfcl.backends.message import MessageAPI
from evalpack.benchmarks.bfcl.backends.posting import TwitterAPI
from evalpack.benchmarks.bfcl.backends.ticket import TicketAPI
from evalpack.benchmarks.bfcl.backends.trading import TradingBot
from evalpack.benchmarks.bfcl.backends.travel import TravelAPI
from evalpack.benchmarks.bfcl.backends.vehicle import VehicleControlAPI

BACKENDS = {cls.__name__: cls for cls in (GorillaFileSystem, MathAPI, MessageAPI, TwitterAPI, TicketAPI,
                                          TradingBot, TravelAPI, VehicleControlAPI)}
