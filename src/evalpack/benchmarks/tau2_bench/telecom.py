"""tau2 telecom, the agent's side: the carrier's database and the agent's tools, behaving as
upstream's (`tau2/domains/telecom/tools.py`, `data_model.py`). The customer's phone is in
`telecom_device.py`; `Environment.sync` ties the two together after every step."""

from __future__ import annotations

import datetime
import uuid
from datetime import date, timedelta
from enum import Enum
from typing import Any, Dict, List, Optional

from pydantic import Field

from evalpack.benchmarks.tau2_bench.toolkit import (DB, GENERIC, READ, WRITE, BaseModelNoExtra,
                                                    Toolkit, tool)

TODAY = date(2025, 2, 25)  # the scenario's "today" (upstream `get_today`)


class Address(BaseModelNoExtra):
    street: str
    city: str
    state: str
    zip_code: str


class Plan(BaseModelNoExtra):
    plan_id: str
    name: str
    data_limit_gb: float
    price_per_month: float
    data_refueling_price_per_gb: float


class DeviceType(str, Enum):
    PHONE = "phone"
    ROUTER = "router"
    TABLET = "tablet"
    WATCH = "watch"
    OTHER = "other"


class Device(BaseModelNoExtra):
    device_id: str
    device_type: DeviceType
    model: str
    imei: Optional[str] = None
    is_esim_capable: bool
    activated: bool = False
    activation_date: Optional[datetime.datetime] = None
    last_esim_transfer_date: Optional[datetime.datetime] = None


class LineStatus(str, Enum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    PENDING_ACTIVATION = "Pending Activation"
    CLOSED = "Closed"


class Line(BaseModelNoExtra):
    line_id: str
    phone_number: str
    status: LineStatus = LineStatus.PENDING_ACTIVATION
    plan_id: str
    device_id: Optional[str] = None
    data_used_gb: float = 0.0
    data_refueling_gb: float = 0.0
    roaming_enabled: bool = False
    contract_end_date: Optional[datetime.date] = None
    last_plan_change_date: Optional[datetime.date] = None
    last_sim_replacement_date: Optional[datetime.date] = None
    suspension_start_date: Optional[datetime.date] = None


class LineItem(BaseModelNoExtra):
    description: str
    amount: float
    date: datetime.date
    item_type: str


class BillStatus(str, Enum):
    DRAFT = "Draft"
    ISSUED = "Issued"
    AWAITING_PAYMENT = "Awaiting Payment"
    PAID = "Paid"
    OVERDUE = "Overdue"
    DISPUTED = "Disputed"


class Bill(BaseModelNoExtra):
    bill_id: str
    customer_id: str
    period_start: datetime.date
    period_end: datetime.date
    issue_date: datetime.date
    total_due: float
    due_date: datetime.date
    line_items: List[LineItem] = Field(default_factory=list)
    status: BillStatus = BillStatus.DRAFT


class AccountStatus(str, Enum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    PENDING_VERIFICATION = "Pending Verification"
    CLOSED = "Closed"


class PaymentMethodType(str, Enum):
    CREDIT_CARD = "Credit Card"
    DEBIT_CARD = "Debit Card"
    PAYPAL = "PayPal"


class PaymentMethod(BaseModelNoExtra):
    method_type: PaymentMethodType
    account_number_last_4: str
    expiration_date: str


class Customer(BaseModelNoExtra):
    customer_id: str
    full_name: str
    date_of_birth: str
    email: str
    phone_number: str
    address: Address
    account_status: AccountStatus = AccountStatus.PENDING_VERIFICATION
    payment_methods: List[PaymentMethod] = Field(default_factory=list)
    line_ids: List[str] = Field(default_factory=list)
    bill_ids: List[str] = Field(default_factory=list)
    created_at: datetime.datetime = date(2025, 1, 1)  # upstream's default is this date, not a datetime
    last_extension_date: Optional[datetime.date] = None
    goodwill_credit_used_this_year: float = 0.0


class TelecomDB(DB):
    plans: List[Plan] = Field(default_factory=list)
    customers: List[Customer] = Field(default_factory=list)
    lines: List[Line] = Field(default_factory=list)
    bills: List[Bill] = Field(default_factory=list)
    devices: List[Device] = Field(default_factory=list)


def _next_month_end(first: date) -> date:
    following = (first.replace(month=first.month + 1) if first.month < 12
                 else first.replace(month=1, year=first.year + 1))
    return following - timedelta(days=1)


class TelecomTools(Toolkit):
    db: TelecomDB

    # --- lookups (not tools) ------------------------------------------------------------
    def _find(self, rows: list, key: str, value: Any, label: str):
        for row in rows:
            if getattr(row, key) == value:
                return row
        raise ValueError(f"{label} {value} not found")

    def _get_line_by_phone(self, phone_number: str) -> Line:
        return self._find(self.db.lines, "phone_number", phone_number, "Line with phone number")

    def _get_line_by_id(self, line_id: str) -> Line:
        return self._find(self.db.lines, "line_id", line_id, "Line with ID")

    def _get_plan_by_id(self, plan_id: str) -> Plan:
        return self._find(self.db.plans, "plan_id", plan_id, "Plan with ID")

    def _get_device_by_id(self, device_id: str) -> Device:
        return self._find(self.db.devices, "device_id", device_id, "Device with ID")

    def _get_bill_by_id(self, bill_id: str) -> Bill:
        return self._find(self.db.bills, "bill_id", bill_id, "Bill with ID")

    def _get_target_line(self, customer_id: str, line_id: str) -> Line:
        customer = self.get_customer_by_id(customer_id)
        if line_id not in customer.line_ids:
            raise ValueError(f"Line {line_id} not found for customer {customer_id}")
        return self._get_line_by_id(line_id)

    def _get_bills_awaiting_payment(self, customer: Customer) -> List[Bill]:
        bills = [self._get_bill_by_id(bill_id) for bill_id in customer.bill_ids]
        return [bill for bill in bills if bill and bill.status == BillStatus.AWAITING_PAYMENT]

    def _set_bill_to_paid(self, bill_id: str) -> str:
        self._get_bill_by_id(bill_id).status = BillStatus.PAID
        return f"Bill {bill_id} set to paid"

    def _apply_one_time_charge(self, customer_id: str, amount: float, description: str) -> None:
        customer = self.get_customer_by_id(customer_id)
        draft = None
        for bill_id in customer.bill_ids:
            bill = self._get_bill_by_id(bill_id)
            if bill and bill.status == BillStatus.DRAFT:
                draft = bill
                break
        if not draft:
            next_month = (TODAY.replace(day=1) + timedelta(days=32)).replace(day=1)
            new_bill_id = f"B{uuid.uuid4().hex[:8]}"  # random, as upstream's
            draft = Bill(bill_id=new_bill_id, customer_id=customer_id, period_start=next_month,
                         period_end=_next_month_end(next_month), issue_date=next_month, total_due=0,
                         due_date=next_month + timedelta(days=14), status=BillStatus.DRAFT)
            self.db.bills.append(draft)
            customer.bill_ids.append(new_bill_id)
        draft.line_items.append(LineItem(description=description, amount=amount, date=TODAY,
                                         item_type="Credit" if amount < 0 else "Charge"))
        draft.total_due += amount

    def get_available_plan_ids(self) -> List[str]:
        return [plan.plan_id for plan in self.db.plans]

    # --- tools, in upstream's declaration order --------------------------------------------
    @tool(READ)
    def get_customer_by_phone(self, phone_number: str) -> Customer:
        for customer in self.db.customers:
            if customer.phone_number == phone_number:
                return customer
            for line_id in customer.line_ids:
                line = self._get_line_by_id(line_id)
                if line and line.phone_number == phone_number:
                    return customer
        raise ValueError(f"Customer with phone number {phone_number} not found")

    @tool(READ)
    def get_customer_by_id(self, customer_id: str) -> Customer:
        return self._find(self.db.customers, "customer_id", customer_id, "Customer with ID")

    @tool(READ)
    def get_customer_by_name(self, full_name: str, dob: str) -> List[Customer]:
        return [c for c in self.db.customers
                if c.full_name.lower() == full_name.lower() and c.date_of_birth == dob]

    @tool(READ)
    def get_details_by_id(self, id: str) -> Dict[str, Any]:  # noqa: A002 - upstream's parameter name
        lookups = {"L": self._get_line_by_id, "D": self._get_device_by_id, "B": self._get_bill_by_id,
                   "C": self.get_customer_by_id, "P": self._get_plan_by_id}
        for prefix, lookup in lookups.items():
            if id.startswith(prefix):
                return lookup(id)
        raise ValueError(f"Unknown ID format or type: {id}")

    @tool(WRITE)
    def suspend_line(self, customer_id: str, line_id: str, reason: str) -> Dict[str, Any]:
        line = self._get_target_line(customer_id, line_id)
        if line.status != LineStatus.ACTIVE:
            raise ValueError("Line must be active to suspend")
        line.status = LineStatus.SUSPENDED
        line.suspension_start_date = TODAY
        return {"message": "Line suspended successfully. $5/month holding fee will apply.", "line": line}

    @tool(WRITE)
    def resume_line(self, customer_id: str, line_id: str) -> Dict[str, Any]:
        line = self._get_target_line(customer_id, line_id)
        if line.status not in [LineStatus.SUSPENDED, LineStatus.PENDING_ACTIVATION]:
            raise ValueError("Line must be suspended to resume")
        line.status = LineStatus.ACTIVE
        line.suspension_start_date = None
        return {"message": "Line resumed successfully", "line": line}

    @tool(READ)
    def get_bills_for_customer(self, customer_id: str, limit: int = 12) -> List[Bill]:
        customer = self.get_customer_by_id(customer_id)
        bills = [self._get_bill_by_id(bill_id) for bill_id in customer.bill_ids]
        return sorted(bills, key=lambda bill: bill.issue_date, reverse=True)[:limit]

    @tool(WRITE)
    def send_payment_request(self, customer_id: str, bill_id: str) -> str:
        customer = self.get_customer_by_id(customer_id)
        if self._get_bills_awaiting_payment(customer):
            raise ValueError("A bill is already awaiting payment for this customer")
        if bill_id not in customer.bill_ids:
            raise ValueError(f"Bill {bill_id} not found for customer {customer_id}")
        bill = self._get_bill_by_id(bill_id)
        bill.status = BillStatus.AWAITING_PAYMENT
        return f"Payment request sent to the customer for bill {bill.bill_id}"

    @tool(READ)
    def get_data_usage(self, customer_id: str, line_id: str) -> Dict[str, Any]:
        line = self._get_target_line(customer_id, line_id)
        plan = self._get_plan_by_id(line.plan_id)
        cycle_end = _next_month_end(TODAY.replace(day=1))
        return {"line_id": line_id, "data_used_gb": line.data_used_gb, "data_limit_gb": plan.data_limit_gb,
                "data_refueling_gb": line.data_refueling_gb, "cycle_end_date": cycle_end}

    def set_data_usage(self, customer_id: str, line_id: str, data_used_gb: float) -> str:
        self._get_target_line(customer_id, line_id).data_used_gb = data_used_gb
        return f"Data usage set to {data_used_gb} GB for line {line_id}"

    @tool(WRITE)
    def enable_roaming(self, customer_id: str, line_id: str) -> Dict[str, Any]:
        line = self._get_target_line(customer_id, line_id)
        if line.roaming_enabled:
            return "Roaming was already enabled"
        line.roaming_enabled = True
        return "Roaming enabled successfully"

    @tool(WRITE)
    def disable_roaming(self, customer_id: str, line_id: str) -> str:
        line = self._get_target_line(customer_id, line_id)
        if not line.roaming_enabled:
            return "Roaming was already disabled"
        line.roaming_enabled = False
        return "Roaming disabled successfully"

    @tool(GENERIC)
    def transfer_to_human_agents(self, summary: str) -> str:
        return "Transfer successful"

    @tool(WRITE)
    def refuel_data(self, customer_id: str, line_id: str, gb_amount: float) -> Dict[str, Any]:
        line = self._get_target_line(customer_id, line_id)
        if gb_amount <= 0:
            raise ValueError("Refuel amount must be positive")
        plan = self._get_plan_by_id(line.plan_id)
        if not plan:
            raise ValueError("Plan not found for this line")
        charge = gb_amount * plan.data_refueling_price_per_gb
        line.data_refueling_gb += gb_amount
        self._apply_one_time_charge(customer_id, charge,
                                    f"Data refueling: {gb_amount} GB at ${plan.data_refueling_price_per_gb}/GB")
        return {"message": f"Successfully added {gb_amount} GB of data for line {line_id} for ${charge:.2f}",
                "new_data_refueling_gb": line.data_refueling_gb, "charge": charge}

    # --- scenario set-up and assertions (called by tasks, never by the model) ---------------
    def suspend_line_for_overdue_bill(self, customer_id: str, line_id: str, new_bill_id: str,
                                      contract_ended: bool) -> str:
        line = self._get_line_by_id(line_id)
        if line.status != LineStatus.ACTIVE:
            raise ValueError("Line must be active to suspend for unpaid bill")
        plan = self._get_plan_by_id(line.plan_id)
        amount = plan.price_per_month
        if amount <= 0:
            raise ValueError("Amount must be positive for overdue bill")
        customer = self.get_customer_by_id(customer_id)
        if any(self._get_bill_by_id(b).status == BillStatus.OVERDUE for b in customer.bill_ids):
            raise ValueError("Customer already has an overdue bill")
        last_month_end = TODAY.replace(day=1) - timedelta(days=1)
        last_month_start = last_month_end.replace(day=1)
        bill = Bill(bill_id=new_bill_id, customer_id=customer_id, period_start=last_month_start,
                    period_end=last_month_end, issue_date=last_month_start, total_due=0,
                    due_date=last_month_start + timedelta(days=14), status=BillStatus.OVERDUE)
        bill.line_items.append(LineItem(description=f"Charge for line {line.line_id}", amount=amount,
                                        date=TODAY, item_type="Charge" if amount > 0 else "Credit"))
        bill.total_due += amount
        self.db.bills.append(bill)
        customer.bill_ids.append(new_bill_id)
        line.status = LineStatus.SUSPENDED
        line.suspension_start_date = TODAY
        if contract_ended:
            line.contract_end_date = last_month_end
        return f"Line {line_id} suspended for unpaid bill {new_bill_id}. Contract ended: {contract_ended}"

    def assert_data_refueling_amount(self, customer_id: str, line_id: str, expected_amount: float) -> bool:
        return abs(self._get_target_line(customer_id, line_id).data_refueling_gb - expected_amount) < 1e-06

    def assert_line_status(self, customer_id: str, line_id: str, expected_status: LineStatus) -> bool:
        return self._get_target_line(customer_id, line_id).status == expected_status

    def assert_overdue_bill_exists(self, customer_id: str, overdue_bill_id: str) -> bool:
        customer = self.get_customer_by_id(customer_id)
        if overdue_bill_id not in customer.bill_ids:
            raise ValueError(f"Overdue bill {overdue_bill_id} not found")
        if self._get_bill_by_id(overdue_bill_id).status != BillStatus.OVERDUE:
            raise ValueError(f"Overdue bill {overdue_bill_id} is not overdue")
        return True

    def assert_no_overdue_bill(self, overdue_bill_id: str) -> bool:
        try:
            return self._get_bill_by_id(overdue_bill_id).status == BillStatus.PAID or False
        except ValueError:
            return True
