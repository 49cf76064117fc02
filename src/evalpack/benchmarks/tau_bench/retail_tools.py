"""The retail domain's tools, behaving as upstream tau-bench's (same checks in the
same order, same return strings). `data` holds "orders", "products", "users"."""

from __future__ import annotations

import json

from evalpack.benchmarks.tau_bench.toolbox import COMMON, Toolbox

RETAIL = Toolbox()
RETAIL.include(COMMON)
tool = RETAIL.register

CANCEL_REASONS = ("no longer needed", "ordered by mistake")


def _new_address(address1, address2, city, state, country, zip):
    return {"address1": address1, "address2": address2, "city": city, "state": state,
            "country": country, "zip": zip}


def _items_present(order: dict, item_ids: list) -> str | None:
    """The first requested item id the order does not hold (often enough), else None."""
    held = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > held.count(item_id):
            return item_id
    return None


def _check_swap(data: dict, order: dict, item_ids: list, new_item_ids: list, payment_method_id: str):
    """The checks an exchange and an item modification share, in upstream's order:
    (summed new - old price, payment method) or an error string."""
    absent = _items_present(order, item_ids)
    if absent is not None:
        return f"Error: {absent} not found"
    if len(item_ids) != len(new_item_ids):
        return "Error: the number of items to be exchanged should match"
    difference = 0
    for item_id, new_item_id in zip(item_ids, new_item_ids):
        item = [i for i in order["items"] if i["item_id"] == item_id][0]
        variants = data["products"][item["product_id"]]["variants"]
        if not (new_item_id in variants and variants[new_item_id]["available"]):
            return f"Error: new item {new_item_id} not found or available"
        difference += variants[new_item_id]["price"] - item["price"]
    methods = data["users"][order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    return difference, methods[payment_method_id]


def _pending_order(orders: dict, order_id: str, verb: str):
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return f"Error: non-pending order cannot be {verb}"
    return order


def _delivered_order(orders: dict, order_id: str, verb: str):
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "delivered":
        return f"Error: non-delivered order cannot be {verb}"
    return order


@tool("cancel_pending_order", "CancelPendingOrder")
def cancel_pending_order(data, order_id, reason):
    order = _pending_order(data["orders"], order_id, "cancelled")
    if isinstance(order, str):
        return order
    if reason not in CANCEL_REASONS:
        return "Error: invalid reason"
    refunds = []
    for payment in order["payment_history"]:
        method_id = payment["payment_method_id"]
        refunds.append({"transaction_type": "refund", "amount": payment["amount"],
                        "payment_method_id": method_id})
        if "gift_card" in method_id:  # gift cards are refunded at once
            method = data["users"][order["user_id"]]["payment_methods"][method_id]
            method["balance"] = round(method["balance"] + payment["amount"], 2)
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    return json.dumps(order)


@tool("exchange_delivered_order_items", "ExchangeDeliveredOrderItems")
def exchange_delivered_order_items(data, order_id, item_ids, new_item_ids, payment_method_id):
    order = _delivered_order(data["orders"], order_id, "exchanged")
    if isinstance(order, str):
        return order
    checked = _check_swap(data, order, item_ids, new_item_ids, payment_method_id)
    if isinstance(checked, str):
        return checked
    difference, method = round(checked[0], 2), checked[1]
    if method["source"] == "gift_card" and method["balance"] < difference:
        return "Error: insufficient gift card balance to pay for the price difference"
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = difference
    return json.dumps(order)


@tool("find_user_id_by_email", "FindUserIdByEmail")
def find_user_id_by_email(data, email):
    for user_id, profile in data["users"].items():
        if profile["email"].lower() == email.lower():
            return user_id
    return "Error: user not found"


@tool("find_user_id_by_name_zip", "FindUserIdByNameZip")
def find_user_id_by_name_zip(data, first_name, last_name, zip):
    for user_id, profile in data["users"].items():
        if (profile["name"]["first_name"].lower() == first_name.lower()
                and profile["name"]["last_name"].lower() == last_name.lower()
                and profile["address"]["zip"] == zip):
            return user_id
    return "Error: user not found"


@tool("get_order_details", "GetOrderDetails")
def get_order_details(data, order_id):
    if order_id in data["orders"]:
        return json.dumps(data["orders"][order_id])
    return "Error: order not found"


@tool("get_product_details", "GetProductDetails")
def get_product_details(data, product_id):
    if product_id in data["products"]:
        return json.dumps(data["products"][product_id])
    return "Error: product not found"


@tool("get_user_details", "GetUserDetails")
def get_user_details(data, user_id):
    if user_id in data["users"]:
        return json.dumps(data["users"][user_id])
    return "Error: user not found"


@tool("list_all_product_types", "ListAllProductTypes")
def list_all_product_types(data):
    by_name = {p["name"]: p["product_id"] for p in data["products"].values()}
    return json.dumps(dict(sorted(by_name.items())))


@tool("modify_pending_order_address", "ModifyPendingOrderAddress")
def modify_pending_order_address(data, order_id, address1, address2, city, state, country, zip):
    order = _pending_order(data["orders"], order_id, "modified")
    if isinstance(order, str):
        return order
    order["address"] = _new_address(address1, address2, city, state, country, zip)
    return json.dumps(order)


@tool("modify_pending_order_items", "ModifyPendingOrderItems")
def modify_pending_order_items(data, order_id, item_ids, new_item_ids, payment_method_id):
    order = _pending_order(data["orders"], order_id, "modified")
    if isinstance(order, str):
        return order
    checked = _check_swap(data, order, item_ids, new_item_ids, payment_method_id)
    if isinstance(checked, str):
        return checked
    difference, method = checked
    if method["source"] == "gift_card" and method["balance"] < difference:
        return "Error: insufficient gift card balance to pay for the new item"
    # unlike exchanges, the difference is not rounded before it is recorded
    order["payment_history"].append({
        "transaction_type": "payment" if difference > 0 else "refund",
        "amount": abs(difference),
        "payment_method_id": payment_method_id,
    })
    if method["source"] == "gift_card":
        method["balance"] = round(method["balance"] - difference, 2)
    for item_id, new_item_id in zip(item_ids, new_item_ids):
        item = [i for i in order["items"] if i["item_id"] == item_id][0]
        variant = data["products"][item["product_id"]]["variants"][new_item_id]
        item["item_id"] = new_item_id
        item["price"] = variant["price"]
        item["options"] = variant["options"]
    order["status"] = "pending (item modified)"
    return json.dumps(order)


@tool("modify_pending_order_payment", "ModifyPendingOrderPayment")
def modify_pending_order_payment(data, order_id, payment_method_id):
    order = _pending_order(data["orders"], order_id, "modified")
    if isinstance(order, str):
        return order
    methods = data["users"][order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    history = order["payment_history"]
    if len(history) > 1 or history[0]["transaction_type"] != "payment":
        return "Error: there should be exactly one payment for a pending order"
    old_method_id = history[0]["payment_method_id"]
    if old_method_id == payment_method_id:
        return "Error: the new payment method should be different from the current one"
    amount = history[0]["amount"]
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < amount:
        return "Error: insufficient gift card balance to pay for the order"
    history.extend([
        {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
        {"transaction_type": "refund", "amount": amount, "payment_method_id": old_method_id},
    ])
    if method["source"] == "gift_card":
        method["balance"] = round(method["balance"] - amount, 2)
    if "gift_card" in old_method_id:
        old_method = methods[old_method_id]
        old_method["balance"] = round(old_method["balance"] + amount, 2)
    return json.dumps(order)


@tool("modify_user_address", "ModifyUserAddress")
def modify_user_address(data, user_id, address1, address2, city, state, country, zip):
    users = data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    user["address"] = _new_address(address1, address2, city, state, country, zip)
    return json.dumps(user)


@tool("return_delivered_order_items", "ReturnDeliveredOrderItems")
def return_delivered_order_items(data, order_id, item_ids, payment_method_id):
    order = _delivered_order(data["orders"], order_id, "returned")
    if isinstance(order, str):
        return order
    if payment_method_id not in data["users"][order["user_id"]]["payment_methods"]:
        return "Error: payment method not found"
    if ("gift_card" not in payment_method_id
            and payment_method_id != order["payment_history"][0]["payment_method_id"]):
        return "Error: payment method should be either the original payment method or a gift card"
    if _items_present(order, item_ids) is not None:
        return "Error: some item not found"
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    return json.dumps(order)
