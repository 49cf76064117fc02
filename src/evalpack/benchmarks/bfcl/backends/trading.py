"""TradingBot: a stock-trading account (BFCL multi-turn backend).

The clock is fixed (2024-09-01 10:30); transaction timestamps are drawn from a
seeded generator within the following day, so the model's run and the
ground-truth run stamp identical times for identical call sequences.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from evalpack.benchmarks.bfcl.backends.base import Backend, config_value

NOW = datetime(2024, 9, 1, 10, 30)


def _stock(price, change, volume, ma5, ma20):
    return {"price": price, "percent_change": change, "volume": volume, "MA(5)": ma5, "MA(20)": ma20}


DEFAULTS = {
    "orders": {12345: {"id": 12345, "order_type": "Buy", "symbol": "AAPL", "price": 210.65, "amount": 10,
                       "status": "Completed"},
               12446: {"id": 12446, "order_type": "Sell", "symbol": "GOOG", "price": 2840.56, "amount": 5,
                       "status": "Pending"}},
    "account_info": {"account_id": 12345, "balance": 10000.0, "binding_card": 1974202140965533},
    "authenticated": False, "market_status": "Closed", "order_counter": 12446,
    "stocks": {"AAPL": _stock(227.16, 0.17, 2.552, 227.11, 227.09),
               "GOOG": _stock(2840.34, 0.24, 1.123, 2835.67, 2842.15),
               "TSLA": _stock(667.92, -0.12, 1.654, 671.15, 668.2),
               "MSFT": _stock(310.23, 0.09, 3.234, 309.88, 310.11),
               "NVDA": _stock(220.34, 0.34, 1.234, 220.45, 220.67),
               "ALPH": _stock(1320.45, -0.08, 1.567, 1321.12, 1325.78),
               "OMEG": _stock(457.23, 0.12, 2.345, 456.78, 458.12),
               "QUAS": _stock(725.89, -0.03, 1.789, 726.45, 728.0),
               "NEPT": _stock(88.34, 0.19, 0.654, 88.21, 88.67),
               "SYNX": _stock(345.67, 0.11, 2.112, 345.34, 346.12),
               "ZETA": _stock(22.09, -0.05, 0.789, 22.12, 22.34)},
    "watch_list": ["NVDA"], "transaction_history": [],
}
SYMBOLS = {"Apple": "AAPL", "Google": "GOOG", "Tesla": "TSLA", "Microsoft": "MSFT", "Nvidia": "NVDA",
           "Zeta Corp": "ZETA", "Alpha Tech": "ALPH", "Omega Industries": "OMEG", "Quasar Ltd.": "QUAS",
           "Neptune Systems": "NEPT", "Synex Solutions": "SYNX", "Amazon": "AMZN", "Gorilla": "GORI"}


class TradingBot(Backend):
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        self._noise = noise or {}
        for key, default in DEFAULTS.items():
            setattr(self, key, config_value(config, key, default))
        self.orders = {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in self.orders.items()}
        self.long_context = long_context
        self._random = random.Random(config.get("random_seed", 1053520))

    def _timestamp(self) -> str:
        offset = self._random.randint(0, 24 * 3600)
        return (NOW + timedelta(seconds=offset)).strftime("%Y-%m-%d %H:%M:%S")

    def _need_login(self, action: str):
        return {"error": f"User not authenticated. Please log in to {action}."}

    def get_current_time(self):
        return {"current_time": NOW.strftime("%I:%M %p")}

    def get_symbol_by_name(self, name: str):
        return {"symbol": SYMBOLS.get(name, "Stock not found")}

    def get_stock_info(self, symbol: str):
        if symbol not in self.stocks:
            return {"error": f"Stock with symbol '{symbol}' not found."}
        if self.long_context:
            stock = dict(self.stocks[symbol])
            stock["MA(5)"], stock["MA(20)"] = list(self._noise["ma_5"]), list(self._noise["ma_20"])
            return stock
        return self.stocks[symbol]

    def get_order_details(self, order_id: int):
        if order_id not in self.orders:
            return {"error": f"Order with ID {order_id} not found."
                             f"Here is the list of orders_id: {list(self.orders)}"}
        if self.long_context:
            order = dict(self.orders[order_id])
            order["metadata"] = {k: v.format(symbol=order["symbol"])
                                 for k, v in self._noise["order_detail"].items()}
            return order
        return self.orders[order_id]

    def cancel_order(self, order_id: int):
        if order_id not in self.orders:
            return {"error": f"Order with ID {order_id} not found."}
        if self.orders[order_id]["status"] == "Completed":
            return {"error": f"Can't cancel order {order_id}. Order is already completed."}
        self.orders[order_id]["status"] = "Cancelled"
        return {"order_id": order_id, "status": "Cancelled"}

    def place_order(self, order_type: str, symbol: str, price: float, amount: int):
        if not self.authenticated:
            return self._need_login("place an order")
        if symbol not in self.stocks:
            return {"error": f"Invalid stock symbol: {symbol}"}
        if price <= 0 or amount <= 0:
            return {"error": "Price and amount must be positive values."}
        if order_type.lower() == "buy":
            cost = float(price) * int(amount)
            balance = self.account_info.get("balance", 0)
            if cost > balance:
                return {"error": f"Insufficient funds: required ${cost:.2f} but only ${balance:.2f} available."}
        price = float(price)
        order_id = self.order_counter
        self.orders[order_id] = {"id": order_id, "order_type": order_type, "symbol": symbol, "price": price,
                                 "amount": amount, "status": "Open"}
        self.order_counter += 1
        return {"order_id": order_id, "order_type": order_type, "status": "Pending", "price": price,
                "amount": amount}

    def withdraw_funds(self, amount: float):
        if not self.authenticated:
            return self._need_login("make a transaction")
        if self.market_status != "Open":
            return {"error": "Market is closed. Transactions are not allowed."}
        if amount <= 0:
            return {"error": "Transaction amount must be positive."}
        if amount > self.account_info["balance"]:
            return {"error": "Insufficient funds for withdrawal."}
        self.account_info["balance"] -= amount
        self.transaction_history.append({"type": "withdrawal", "amount": amount, "timestamp": self._timestamp()})
        return {"status": "Withdrawal successful", "new_balance": self.account_info["balance"]}

    def get_account_info(self):
        if not self.authenticated:
            return self._need_login("view account information")
        return self.account_info

    def trading_login(self, username: str, password: str):
        if self.authenticated:
            return {"status": "Already logged in"}
        self.authenticated = True
        return {"status": "Logged in successfully"}

    def trading_get_login_status(self):
        return {"status": bool(self.authenticated)}

    def trading_logout(self):
        if not self.authenticated:
            return {"status": "No user is currently logged in"}
        self.authenticated = False
        return {"status": "Logged out successfully"}

    def fund_account(self, amount: float):
        if not self.authenticated:
            return self._need_login("fund the account")
        if amount <= 0:
            return {"error": "Funding amount must be positive."}
        self.account_info["balance"] += amount
        self.transaction_history.append({"type": "deposit", "amount": amount, "timestamp": self._timestamp()})
        return {"status": "Account funded successfully", "new_balance": self.account_info["balance"]}

    def remove_stock_from_watchlist(self, symbol: str):
        if not self.authenticated:
            return self._need_login("modify the watchlist")
        if symbol not in self.watch_list:
            return {"error": f"Stock {symbol} not found in watchlist."}
        self.watch_list.remove(symbol)
        return {"status": f"Stock {symbol} removed from watchlist successfully."}

    def get_watchlist(self):
        if not self.authenticated:
            return ["Error: User not authenticated. Please log in to view the watchlist."]
        if self.long_context:
            return self.watch_list + self._noise["watch_list"]
        return {"watchlist": self.watch_list}

    def get_order_history(self):
        if not self.authenticated:
            return [self._need_login("view order history")]
        return {"history": list(self.orders)}

    def get_transaction_history(self, start_date: str | None = None, end_date: str | None = None):
        if not self.authenticated:
            return [self._need_login("view transaction history")]
        start = datetime.strptime(start_date, "%Y-%m-%d") if start_date else datetime.min
        end = datetime.strptime(end_date, "%Y-%m-%d") if end_date else datetime.max
        history = [t for t in self.transaction_history
                   if start <= datetime.strptime(t["timestamp"], "%Y-%m-%d %H:%M:%S") <= end]
        if self.long_context:
            history.extend(self._noise["transactions"])
        return {"transaction_history": history}

    def get_available_stocks(self, sector: str):
        sectors = {"Technology": ["AAPL", "GOOG", "MSFT", "NVDA"], "Automobile": ["TSLA", "F", "GM"]}
        if self.long_context:
            sectors["Technology"] += self._noise["technology"]
            sectors["Automobile"] += self._noise["automobile"]
        return {"stock_list": sectors.get(sector, [])}

    def filter_stocks_by_price(self, stocks: list, min_price: float, max_price: float):
        def price(symbol):
            return self.stocks.get(symbol, {}).get("price", 0)
        return {"filtered_stocks": [s for s in stocks if min_price <= price(s) <= max_price]}

    def add_to_watchlist(self, stock: str):
        if stock not in self.watch_list and stock in self.stocks:
            self.watch_list.append(stock)
        return {"watchlist": self.watch_list}

    def notify_price_change(self, stocks: list, threshold: float):
        changed = [s for s in stocks if s in self.stocks and abs(self.stocks[s]["percent_change"]) >= threshold]
        if changed:
            return {"notification": f"Stocks {', '.join(changed)} have significant price changes."}
        return {"notification": "No significant price changes in the selected stocks."}
