"""tau2 airline: the data model and the agent's tools, behaving as upstream's
(`tau2/domains/airline`): same checks in the same order, same return values, same errors."""

from __future__ import annotations

from copy import deepcopy
from typing import Annotated, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, Field

from evalpack.benchmarks.tau2_bench.toolkit import (DB, GENERIC, READ, WRITE, Toolkit,
                                                    calculate_expression, tool)

FlightType = Literal["round_trip", "one_way"]
CabinClass = Literal["business", "economy", "basic_economy"]
Insurance = Literal["yes", "no"]


class AirportCode(BaseModel):
    iata: str
    city: str


class Name(BaseModel):
    first_name: str
    last_name: str


class Address(BaseModel):
    address1: str
    address2: Optional[str] = None
    city: str
    country: str
    state: str
    zip: str


class Payment(BaseModel):
    payment_id: str
    amount: int


class PaymentMethodBase(BaseModel):
    source: str
    id: str


class CreditCard(PaymentMethodBase):
    source: Literal["credit_card"]
    brand: str
    last_four: str


class GiftCard(PaymentMethodBase):
    source: Literal["gift_card"]
    amount: float
    id: str


class Certificate(PaymentMethodBase):
    source: Literal["certificate"]
    amount: float


PaymentMethod = Union[CreditCard, GiftCard, Certificate]


class Passenger(BaseModel):
    first_name: str
    last_name: str
    dob: str


class FlightDateStatusAvailable(BaseModel):
    status: Literal["available"]
    available_seats: dict[CabinClass, int]
    prices: dict[CabinClass, int]


class FlightDataStatusOnTime(BaseModel):
    status: Literal["on time"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


class FlightDataStatusFlying(BaseModel):
    status: Literal["flying"]
    actual_departure_time_est: str
    estimated_arrival_time_est: str


class FlightDateStatusLanded(BaseModel):
    status: Literal["landed"]
    actual_departure_time_est: str
    actual_arrival_time_est: str


class FlightDateStatusCancelled(BaseModel):
    status: Literal["cancelled"]


class FlightDateStatusDelayed(BaseModel):
    status: Literal["delayed"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


FlightDateStatus = Union[FlightDateStatusAvailable, FlightDateStatusLanded, FlightDateStatusCancelled,
                         FlightDateStatusDelayed, FlightDataStatusFlying, FlightDataStatusOnTime]


class FlightBase(BaseModel):
    flight_number: str
    origin: str
    destination: str


class Flight(FlightBase):
    scheduled_departure_time_est: str
    scheduled_arrival_time_est: str
    dates: Dict[str, FlightDateStatus]


class DirectFlight(FlightBase):
    status: Literal["available"]
    scheduled_departure_time_est: str
    scheduled_arrival_time_est: str
    date: Optional[str] = None
    available_seats: dict[CabinClass, int]
    prices: dict[CabinClass, int]


class ReservationFlight(FlightBase):
    date: str
    price: int


class FlightInfo(BaseModel):
    flight_number: str
    date: str


class User(BaseModel):
    user_id: str
    name: Name
    address: Address
    email: str
    dob: str
    payment_methods: Dict[str, PaymentMethod]
    saved_passengers: List[Passenger]
    membership: Annotated[Literal["gold", "silver", "regular"], Field()]
    reservations: List[str]


class Reservation(BaseModel):
    reservation_id: str
    user_id: str
    origin: str
    destination: str
    flight_type: FlightType
    cabin: CabinClass
    flights: List[ReservationFlight]
    passengers: List[Passenger]
    payment_history: List[Payment]
    created_at: str
    total_baggages: int
    nonfree_baggages: int
    insurance: Insurance
    status: Optional[Literal["cancelled"]] = None


class FlightDB(DB):
    flights: Dict[str, Flight]
    users: Dict[str, User]
    reservations: Dict[str, Reservation]


NEW_RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")  # upstream assumes at most 3 bookings a task
NEW_CERTIFICATE_NUMBERS = (3221322, 3221323, 3221324)
NOW = "2024-05-15T15:00:00"  # the policy's "current time"
AIRPORTS = (("SFO", "San Francisco"), ("JFK", "New York"), ("LAX", "Los Angeles"), ("ORD", "Chicago"),
            ("DFW", "Dallas"), ("DEN", "Denver"), ("SEA", "Seattle"), ("ATL", "Atlanta"),
            ("MIA", "Miami"), ("BOS", "Boston"), ("PHX", "Phoenix"), ("IAH", "Houston"),
            ("LAS", "Las Vegas"), ("MCO", "Orlando"), ("EWR", "Newark"), ("CLT", "Charlotte"),
            ("MSP", "Minneapolis"), ("DTW", "Detroit"), ("PHL", "Philadelphia"), ("LGA", "LaGuardia"))


def _models(items: list, model: type[BaseModel]) -> list:
    """Upstream converts a list only when every element is a dict."""
    return [model(**item) for item in items] if all(isinstance(i, dict) for i in items) else items


class AirlineTools(Toolkit):
    db: FlightDB

    # --- lookups ------------------------------------------------------------------------
    def _get_user(self, user_id: str) -> User:
        if user_id not in self.db.users:
            raise ValueError(f"User {user_id} not found")
        return self.db.users[user_id]

    def _get_reservation(self, reservation_id: str) -> Reservation:
        if reservation_id not in self.db.reservations:
            raise ValueError(f"Reservation {reservation_id} not found")
        return self.db.reservations[reservation_id]

    def _get_flight(self, flight_number: str) -> Flight:
        if flight_number not in self.db.flights:
            raise ValueError(f"Flight {flight_number} not found")
        return self.db.flights[flight_number]

    def _get_flight_instance(self, flight_number: str, date: str):
        flight = self._get_flight(flight_number)
        if date not in flight.dates:
            raise ValueError(f"Flight {flight_number} not found on date {date}")
        return flight.dates[date]

    def _new_reservation_id(self) -> str:
        for reservation_id in NEW_RESERVATION_IDS:
            if reservation_id not in self.db.reservations:
                return reservation_id
        raise ValueError("Too many reservations")

    def _search_direct_flight(self, date, origin=None, destination=None, leave_after=None) -> list[DirectFlight]:
        found = []
        for flight in self.db.flights.values():
            if ((origin is None or flight.origin == origin)
                    and (destination is None or flight.destination == destination)
                    and date in flight.dates
                    and flight.dates[date].status == "available"
                    and (leave_after is None or flight.scheduled_departure_time_est >= leave_after)):
                on_date = flight.dates[date]
                found.append(DirectFlight(
                    flight_number=flight.flight_number, origin=flight.origin,
                    destination=flight.destination, status="available",
                    scheduled_departure_time_est=flight.scheduled_departure_time_est,
                    scheduled_arrival_time_est=flight.scheduled_arrival_time_est,
                    available_seats=on_date.available_seats, prices=on_date.prices))
        return found

    def _payment_for_update(self, user: User, payment_id: str, total_price: int) -> Optional[Payment]:
        if payment_id not in user.payment_methods:
            raise ValueError("Payment method not found")
        method = user.payment_methods[payment_id]
        if method.source == "certificate":
            raise ValueError("Certificate cannot be used to update reservation")
        if method.source == "gift_card" and method.amount < total_price:
            raise ValueError("Gift card balance is not enough")
        if method.source == "gift_card":
            method.amount -= total_price
        return Payment(payment_id=payment_id, amount=total_price) if total_price != 0 else None

    # --- tools, in upstream's declaration order --------------------------------------------
    @tool(WRITE)
    def book_reservation(self, user_id: str, origin: str, destination: str, flight_type: FlightType,
                         cabin: CabinClass, flights: List[FlightInfo | dict],
                         passengers: List[Passenger | dict], payment_methods: List[Payment | dict],
                         total_baggages: int, nonfree_baggages: int, insurance: Insurance) -> Reservation:
        flights = _models(flights, FlightInfo)
        passengers = _models(passengers, Passenger)
        payment_methods = _models(payment_methods, Payment)
        user = self._get_user(user_id)
        reservation_id = self._new_reservation_id()
        reservation = Reservation(
            reservation_id=reservation_id, user_id=user_id, origin=origin, destination=destination,
            flight_type=flight_type, cabin=cabin, flights=[], passengers=deepcopy(passengers),
            payment_history=deepcopy(payment_methods), created_at=NOW, total_baggages=total_baggages,
            nonfree_baggages=nonfree_baggages, insurance=insurance)
        total_price = 0
        booked_dates = []
        for info in flights:
            number = info.flight_number
            flight = self._get_flight(number)
            on_date = self._get_flight_instance(flight_number=number, date=info.date)
            if not isinstance(on_date, FlightDateStatusAvailable):
                raise ValueError(f"Flight {number} not available on date {info.date}")
            if on_date.available_seats[cabin] < len(passengers):
                raise ValueError(f"Not enough seats on flight {number}")
            price = on_date.prices[cabin]
            reservation.flights.append(ReservationFlight(
                origin=flight.origin, destination=flight.destination, flight_number=number,
                date=info.date, price=price))
            booked_dates.append(on_date)
            total_price += price * len(passengers)
        if insurance == "yes":
            total_price += 30 * len(passengers)
        total_price += 50 * nonfree_baggages
        for payment in payment_methods:
            if payment.payment_id not in user.payment_methods:
                raise ValueError(f"Payment method {payment.payment_id} not found")
            method = user.payment_methods[payment.payment_id]
            if method.source in {"gift_card", "certificate"} and method.amount < payment.amount:
                raise ValueError(f"Not enough balance in payment method {payment.payment_id}")
        paid = sum(payment.amount for payment in payment_methods)
        if paid != total_price:
            raise ValueError(f"Payment amount does not add up, total price is {total_price}, but paid {paid}")
        for payment in payment_methods:
            method = user.payment_methods[payment.payment_id]
            if method.source == "gift_card":
                method.amount -= payment.amount
            elif method.source == "certificate":
                user.payment_methods.pop(payment.payment_id)
        for on_date in booked_dates:
            on_date.available_seats[cabin] -= len(passengers)
        self.db.reservations[reservation_id] = reservation
        self.db.users[user_id].reservations.append(reservation_id)
        return reservation

    @tool(GENERIC)
    def calculate(self, expression: str) -> str:
        return calculate_expression(expression)

    @tool(WRITE)
    def cancel_reservation(self, reservation_id: str) -> Reservation:
        reservation = self._get_reservation(reservation_id)
        refunds = [Payment(payment_id=p.payment_id, amount=-p.amount) for p in reservation.payment_history]
        reservation.payment_history.extend(refunds)
        reservation.status = "cancelled"
        return reservation  # upstream releases no seats on cancellation

    @tool(READ)
    def get_reservation_details(self, reservation_id: str) -> Reservation:
        return self._get_reservation(reservation_id)

    @tool(READ)
    def get_user_details(self, user_id: str) -> User:
        return self._get_user(user_id)

    @tool(READ)
    def list_all_airports(self) -> list[AirportCode]:
        return [AirportCode(iata=iata, city=city) for iata, city in AIRPORTS]

    @tool(READ)
    def search_direct_flight(self, origin: str, destination: str, date: str) -> list[DirectFlight]:
        return self._search_direct_flight(date=date, origin=origin, destination=destination)

    @tool(READ)
    def search_onestop_flight(self, origin: str, destination: str, date: str) -> list:
        pairs = []
        for first in self._search_direct_flight(date=date, origin=origin, destination=None):
            first.date = date
            # upstream's rule for an overnight first leg (May 2024 dates only)
            second_date = f"2024-05-{int(date[-2:]) + 1}" if "+1" in first.scheduled_arrival_time_est else date
            for second in self._search_direct_flight(date=second_date, origin=first.destination,
                                                     destination=destination,
                                                     leave_after=first.scheduled_arrival_time_est):
                second.date = second_date
                pairs.append([first, second])
        return pairs

    @tool(WRITE)
    def send_certificate(self, user_id: str, amount: int) -> str:
        user = self._get_user(user_id)
        for number in NEW_CERTIFICATE_NUMBERS:
            payment_id = f"certificate_{number}"
            if payment_id not in user.payment_methods:
                user.payment_methods[payment_id] = Certificate(id=payment_id, amount=amount, source="certificate")
                return f"Certificate {payment_id} added to user {user_id} with amount {amount}."
        raise ValueError("Too many certificates")

    @tool(GENERIC)
    def transfer_to_human_agents(self, summary: str) -> str:
        return "Transfer successful"

    @tool(WRITE)
    def update_reservation_baggages(self, reservation_id: str, total_baggages: int, nonfree_baggages: int,
                                    payment_id: str) -> Reservation:
        reservation = self._get_reservation(reservation_id)
        user = self._get_user(reservation.user_id)
        total_price = 50 * max(0, nonfree_baggages - reservation.nonfree_baggages)
        payment = self._payment_for_update(user, payment_id, total_price)
        if payment is not None:
            reservation.payment_history.append(payment)
        reservation.total_baggages = total_baggages
        reservation.nonfree_baggages = nonfree_baggages
        return reservation

    @tool(WRITE)
    def update_reservation_flights(self, reservation_id: str, cabin: CabinClass,
                                   flights: List[FlightInfo | dict], payment_id: str) -> Reservation:
        flights = _models(flights, FlightInfo)
        reservation = self._get_reservation(reservation_id)
        user = self._get_user(reservation.user_id)
        n_passengers = len(reservation.passengers)
        total_price = 0
        new_flights = []
        for info in flights:
            kept = next((f for f in reservation.flights
                         if f.flight_number == info.flight_number and f.date == info.date
                         and cabin == reservation.cabin), None)
            if kept:
                total_price += kept.price * n_passengers
                new_flights.append(kept)
                continue
            flight = self._get_flight(info.flight_number)
            on_date = self._get_flight_instance(flight_number=info.flight_number, date=info.date)
            if not isinstance(on_date, FlightDateStatusAvailable):
                raise ValueError(f"Flight {info.flight_number} not available on date {info.date}")
            if on_date.available_seats[cabin] < n_passengers:
                raise ValueError(f"Not enough seats on flight {info.flight_number}")
            booked = ReservationFlight(flight_number=info.flight_number, date=info.date,
                                       price=on_date.prices[cabin], origin=flight.origin,
                                       destination=flight.destination)
            total_price += booked.price * n_passengers
            new_flights.append(booked)
        total_price -= sum(f.price for f in reservation.flights) * n_passengers
        payment = self._payment_for_update(user, payment_id, total_price)
        if payment is not None:
            reservation.payment_history.append(payment)
        reservation.flights = new_flights
        reservation.cabin = cabin
        return reservation  # upstream leaves the flights' seat counts as they were

    @tool(WRITE)
    def update_reservation_passengers(self, reservation_id: str,
                                      passengers: List[Passenger | dict]) -> Reservation:
        passengers = _models(passengers, Passenger)
        reservation = self._get_reservation(reservation_id)
        if len(passengers) != len(reservation.passengers):
            raise ValueError("Number of passengers does not match")
        reservation.passengers = deepcopy(passengers)
        return reservation

    @tool(READ)
    def get_flight_status(self, flight_number: str, date: str) -> str:
        return self._get_flight_instance(flight_number, date).status
