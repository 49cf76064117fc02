"""The airline domain's tools, behaving as upstream tau-bench's (same checks in the
same order, same return strings). `data` holds "flights", "reservations", "users"."""

from __future__ import annotations

import copy
import json

from evalpack.benchmarks.tau_bench.toolbox import COMMON, Toolbox

AIRLINE = Toolbox()
AIRLINE.include(COMMON)
tool = AIRLINE.register

# Reservation ids a task may create, in order (upstream assumes at most three bookings per task).
NEW_RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")
CERTIFICATE_IDS = ("certificate_3221322", "certificate_3221323", "certificate_3221324")
BOOKING_TIME = "2024-05-15T15:00:00"  # the policy's "current time"
INSURANCE_PER_PASSENGER = 30
BAG_PRICE = 50

AIRPORTS = {
    "SFO": "San Francisco", "JFK": "New York", "LAX": "Los Angeles", "ORD": "Chicago",
    "DFW": "Dallas", "DEN": "Denver", "SEA": "Seattle", "ATL": "Atlanta", "MIA": "Miami",
    "BOS": "Boston", "PHX": "Phoenix", "IAH": "Houston", "LAS": "Las Vegas", "MCO": "Orlando",
    "EWR": "Newark", "CLT": "Charlotte", "MSP": "Minneapolis", "DTW": "Detroit",
    "PHL": "Philadelphia", "LGA": "LaGuardia",
}


def _price_flight(data: dict, flight: dict, cabin: str, n_passengers: int) -> str | None:
    """Fill price/origin/destination of a requested flight segment, or say why it can't be flown."""
    number = flight["flight_number"]
    if number not in data["flights"]:
        return f"Error: flight {number} not found"
    schedule = data["flights"][number]
    if flight["date"] not in schedule["dates"]:
        return f"Error: flight {number} not found on date {flight['date']}"
    on_date = schedule["dates"][flight["date"]]
    if on_date["status"] != "available":
        return f"Error: flight {number} not available on date {flight['date']}"
    if on_date["available_seats"][cabin] < n_passengers:
        return f"Error: not enough seats on flight {number}"
    flight["price"] = on_date["prices"][cabin]
    flight["origin"] = schedule["origin"]
    flight["destination"] = schedule["destination"]
    return None


@tool("book_reservation", "BookReservation")
def book_reservation(data, user_id, origin, destination, flight_type, cabin, flights,
                     passengers, payment_methods, total_baggages, nonfree_baggages, insurance):
    reservations, users = data["reservations"], data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    reservation_id = next((r for r in NEW_RESERVATION_IDS[:-1] if r not in reservations),
                          NEW_RESERVATION_IDS[-1])
    reservation = {
        "reservation_id": reservation_id, "user_id": user_id, "origin": origin,
        "destination": destination, "flight_type": flight_type, "cabin": cabin,
        "flights": copy.deepcopy(flights), "passengers": passengers,
        "payment_history": payment_methods, "created_at": BOOKING_TIME,
        "total_baggages": total_baggages, "nonfree_baggages": nonfree_baggages,
        "insurance": insurance,
    }
    total = 0
    for flight in reservation["flights"]:
        problem = _price_flight(data, flight, cabin, len(passengers))
        if problem:
            return problem
        total += flight["price"] * len(passengers)
    if insurance == "yes":
        total += INSURANCE_PER_PASSENGER * len(passengers)
    total += BAG_PRICE * nonfree_baggages

    for payment in payment_methods:
        payment_id, amount = payment["payment_id"], payment["amount"]
        if payment_id not in user["payment_methods"]:
            return f"Error: payment method {payment_id} not found"
        method = user["payment_methods"][payment_id]
        if method["source"] in ("gift_card", "certificate") and method["amount"] < amount:
            return f"Error: not enough balance in payment method {payment_id}"
    paid = sum(p["amount"] for p in payment_methods)
    if paid != total:
        return f"Error: payment amount does not add up, total price is {total}, but paid {paid}"

    for payment in payment_methods:
        method = user["payment_methods"][payment["payment_id"]]
        if method["source"] == "gift_card":
            method["amount"] -= payment["amount"]
        elif method["source"] == "certificate":  # certificates are single-use
            del user["payment_methods"][payment["payment_id"]]
    reservations[reservation_id] = reservation
    user["reservations"].append(reservation_id)
    return json.dumps(reservation)


@tool("cancel_reservation", "CancelReservation")
def cancel_reservation(data, reservation_id):
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    refunds = [{"payment_id": p["payment_id"], "amount": -p["amount"]}
               for p in reservation["payment_history"]]
    reservation["payment_history"].extend(refunds)
    reservation["status"] = "cancelled"
    return json.dumps(reservation)


@tool("get_reservation_details", "GetReservationDetails")
def get_reservation_details(data, reservation_id):
    if reservation_id in data["reservations"]:
        return json.dumps(data["reservations"][reservation_id])
    return "Error: user not found"  # sic: upstream's wording for a missing reservation


@tool("get_user_details", "GetUserDetails")
def get_user_details(data, user_id):
    if user_id in data["users"]:
        return json.dumps(data["users"][user_id])
    return "Error: user not found"


@tool("list_all_airports", "ListAllAirports")
def list_all_airports(data):
    return json.dumps(AIRPORTS)


def _segment(flight: dict, date: str) -> dict:
    """A flight's static fields merged with its status/seats/prices on one date."""
    view = {k: v for k, v in flight.items() if k != "dates"}
    view.update(flight["dates"][date])
    return view


@tool("search_direct_flight", "SearchDirectFlight")
def search_direct_flight(data, origin, destination, date):
    found = []
    for flight in data["flights"].values():
        if (flight["origin"] == origin and flight["destination"] == destination
                and date in flight["dates"] and flight["dates"][date]["status"] == "available"):
            found.append(_segment(flight, date))
    return json.dumps(found)


@tool("search_onestop_flight", "SearchOnestopFlight")
def search_onestop_flight(data, origin, destination, date):
    flights = data["flights"]
    found = []
    for first in flights.values():
        if first["origin"] != origin:
            continue
        for second in flights.values():
            if second["destination"] != destination or first["destination"] != second["origin"]:
                continue
            # an overnight first leg ("+1" arrival) connects the next day; upstream builds that
            # date by adding one to the day of month in May 2024, unpadded
            second_date = (f"2024-05-{int(date[-2:]) + 1}"
                           if "+1" in first["scheduled_arrival_time_est"] else date)
            if first["scheduled_arrival_time_est"] > second["scheduled_departure_time_est"]:
                continue
            if date in first["dates"] and second_date in second["dates"]:
                if (first["dates"][date]["status"] == "available"
                        and second["dates"][second_date]["status"] == "available"):
                    leg1 = _segment(first, date)
                    leg1["date"] = date
                    # upstream shows the second leg's status/prices for the *first* leg's date
                    leg2 = _segment(second, date)
                    leg2["date"] = second_date
                    found.append([leg1, leg2])
    return json.dumps(found)


@tool("send_certificate", "SendCertificate")
def send_certificate(data, user_id, amount):
    users = data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    for payment_id in CERTIFICATE_IDS:
        if payment_id not in user["payment_methods"]:
            user["payment_methods"][payment_id] = {
                "source": "certificate", "amount": amount, "id": payment_id}
            return f"Certificate {payment_id} added to user {user_id} with amount {amount}."
    return "None"  # upstream returns None once all three slots are used


def _payment_for_change(data: dict, reservation: dict, payment_id: str, price: float):
    """The user's payment method for a reservation change, or an error string."""
    methods = data["users"][reservation["user_id"]]["payment_methods"]
    if payment_id not in methods:
        return "Error: payment method not found"
    method = methods[payment_id]
    if method["source"] == "certificate":
        return "Error: certificate cannot be used to update reservation"
    if method["source"] == "gift_card" and method["amount"] < price:
        return "Error: gift card balance is not enough"
    return method


@tool("update_reservation_baggages", "UpdateReservationBaggages")
def update_reservation_baggages(data, reservation_id, total_baggages, nonfree_baggages, payment_id):
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    price = BAG_PRICE * max(0, nonfree_baggages - reservation["nonfree_baggages"])
    method = _payment_for_change(data, reservation, payment_id, price)
    if isinstance(method, str):
        return method
    reservation["total_baggages"] = total_baggages
    reservation["nonfree_baggages"] = nonfree_baggages
    if method["source"] == "gift_card":
        method["amount"] -= price
    if price != 0:
        reservation["payment_history"].append({"payment_id": payment_id, "amount": price})
    return json.dumps(reservation)


@tool("update_reservation_flights", "UpdateReservationFlights")
def update_reservation_flights(data, reservation_id, cabin, flights, payment_id):
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    n_passengers = len(reservation["passengers"])
    flights = copy.deepcopy(flights)
    total = 0
    for flight in flights:
        # a segment already booked in the same cabin keeps its original price
        kept = [f for f in reservation["flights"]
                if f["flight_number"] == flight["flight_number"] and f["date"] == flight["date"]
                and cabin == reservation["cabin"]]
        if kept:
            flight["price"] = kept[0]["price"]
            flight["origin"] = kept[0]["origin"]
            flight["destination"] = kept[0]["destination"]
            total += kept[0]["price"] * n_passengers
            continue
        problem = _price_flight(data, flight, cabin, n_passengers)
        if problem:
            return problem
        total += flight["price"] * n_passengers
    total -= sum(f["price"] for f in reservation["flights"]) * n_passengers

    method = _payment_for_change(data, reservation, payment_id, total)
    if isinstance(method, str):
        return method
    if method["source"] == "gift_card":
        method["amount"] -= total
    reservation["flights"] = flights
    if total != 0:
        reservation["payment_history"].append({"payment_id": payment_id, "amount": total})
    # seat counts in the flights table are not updated (upstream leaves them as they are)
    return json.dumps(reservation)


@tool("update_reservation_passengers", "UpdateReservationPassengers")
def update_reservation_passengers(data, reservation_id, passengers):
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    if len(passengers) != len(reservation["passengers"]):
        return "Error: number of passengers does not match"
    reservation["passengers"] = passengers
    return json.dumps(reservation)
