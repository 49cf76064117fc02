"""A tau2 environment: one episode's databases and tools, for the agent and (telecom) the user.

Upstream's rules kept here:
* a tool call is `make_tool_call(name, requestor, **arguments)`; its answer is the tool's
  return value as text, or `"Error: <exception>"` (an error also counts toward max_errors);
* after every step, the telecom environment syncs the phone with the carrier's records
  (line active, roaming allowed, data used up, payment requests);
* `set_state` applies a task's initialization data and actions, then replays any tool calls
  found in a message history;
* the database hash is sha256 of the canonical JSON of `db.model_dump()`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from evalpack.benchmarks.tau2_bench import airline, retail, telecom, telecom_device
from evalpack.benchmarks.tau2_bench.toolkit import Toolkit, to_json_str
from evalpack.errors import DataMissingError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

DOMAINS = ("airline", "retail", "telecom")
_SCHEMAS = Path(__file__).with_name("data") / "tools.json"


@dataclass
class DomainData:
    """One domain's pristine data, read once per process: the databases as raw dicts (each
    environment validates its own copy: 0.3 s for airline, faster than any deep copy)."""

    name: str
    policy: str
    db: dict
    user_db: dict | None
    agent_tools: list[dict]
    user_tools: list[dict]
    _hashes: dict = field(default_factory=dict)


_CACHE: dict[tuple[str, str], DomainData] = {}
_LOCK = threading.Lock()


def _read(path: Path) -> str:
    if not path.is_file():
        raise DataMissingError(
            f"tau2_bench: {path} is missing; put the tau2-bench files there (see `evalpack list "
            f"tau2_bench` and the datasets' SOURCES.md) or pass --dataset-dir.")
    return path.read_text(encoding="utf-8")


def load_domain(root: Path, name: str) -> DomainData:
    """The domain's files under <root>/<name>/ (and the shared telecom phone)."""
    key = (name, str(Path(root).resolve()))
    with _LOCK:
        if key not in _CACHE:
            folder = Path(root) / name
            schemas = json.loads(_SCHEMAS.read_text(encoding="utf-8"))[name]
            if name == "telecom":
                # upstream's telecom policy: the main policy and the tech-support manual, tagged
                policy = ("<main_policy>\n" + _read(folder / "main_policy.md") + "\n</main_policy>\n"
                          "<tech_support_policy>\n" + _read(folder / "tech_support_manual.md")
                          + "\n</tech_support_policy>")
                db = tomllib.loads(_read(folder / "db.toml"))
                user_db = tomllib.loads(_read(folder / "user_db.toml"))
            else:
                policy = _read(folder / "policy.md")
                db, user_db = json.loads(_read(folder / "db.json")), None
            _CACHE[key] = DomainData(name, policy, db, user_db, schemas["agent"], schemas["user"])
        return _CACHE[key]


TOOLKITS = {"airline": (airline.AirlineTools, None), "retail": (retail.RetailTools, None),
            "telecom": (telecom.TelecomTools, telecom_device.TelecomUserTools)}


def is_mutating(domain: str, name: str, requestor: str) -> bool:
    """False only for a read tool or an unknown one (whose call fails before touching anything)."""
    agent_kit, user_kit = TOOLKITS[domain]
    toolkit = user_kit if requestor == "user" else agent_kit
    if toolkit is None or name not in toolkit.tool_names():
        return False
    return toolkit.tool_kind(name) != "read"


class Environment:
    def __init__(self, domain: str, tools: Toolkit, user_tools: Toolkit | None = None) -> None:
        self.domain = domain
        self.tools = tools
        self.user_tools = user_tools
        self.sync_tools()

    @classmethod
    def fresh(cls, data: DomainData) -> "Environment":
        if data.name == "airline":
            return cls("airline", airline.AirlineTools(airline.FlightDB.model_validate(data.db)))
        if data.name == "retail":
            return cls("retail", retail.RetailTools(retail.RetailDB.model_validate(data.db)))
        return cls("telecom", telecom.TelecomTools(telecom.TelecomDB.model_validate(data.db)),
                   telecom_device.TelecomUserTools(telecom_device.TelecomUserDB.model_validate(data.user_db)))

    # --- tool calls ---------------------------------------------------------------------------
    def make_tool_call(self, tool_name: str, requestor: str = "assistant", **kwargs: Any) -> Any:
        if requestor == "user":
            if self.user_tools is None:
                raise ValueError("User tools not available")
            return self.user_tools.use_tool(tool_name=tool_name, **kwargs)
        if requestor == "assistant":
            return self.tools.use_tool(tool_name=tool_name, **kwargs)
        raise ValueError(f"Invalid requestor: {requestor}")

    def get_response(self, name: str, arguments: dict, requestor: str = "assistant") -> tuple[str, bool]:
        """(the observation text, whether it is an error), then the step's sync."""
        try:
            result = self.make_tool_call(name, requestor=requestor, **arguments)
            self.sync_tools()
            error = False
        except Exception as e:  # noqa: BLE001 - upstream reports every exception to the caller
            result, error = f"Error: {e}", True
        return to_json_str(result), error

    # --- the phone <-> carrier link (telecom) ----------------------------------------------------
    def sync_tools(self) -> None:
        if self.domain != "telecom":
            return
        agent, user = self.tools, self.user_tools
        surroundings = user.db.surroundings
        phone = surroundings.phone_number
        if phone is None:
            return
        line = agent._get_line_by_phone(phone)
        surroundings.line_active = line.status == telecom.LineStatus.ACTIVE
        surroundings.roaming_allowed = bool(line.roaming_enabled)
        plan = agent._get_plan_by_id(line.plan_id)
        surroundings.mobile_data_usage_exceeded = line.data_used_gb >= plan.data_limit_gb + line.data_refueling_gb
        request = surroundings.payment_request
        if request is not None and request.paid:
            agent._set_bill_to_paid(request.bill_id)
            surroundings.payment_request = None
        if surroundings.payment_request is None:
            awaiting = agent._get_bills_awaiting_payment(agent.get_customer_by_phone(phone))
            if awaiting:
                surroundings.payment_request = telecom_device.PaymentRequest(
                    bill_id=awaiting[0].bill_id, amount_due=awaiting[0].total_due)

    # --- task set-up and checks ----------------------------------------------------------------
    def run_env_function_call(self, call: dict) -> Any:
        env_type = call.get("env_type")
        if env_type == "user":
            toolkit = self.user_tools
        elif env_type == "assistant":
            toolkit = self.tools
        else:
            raise ValueError(f"Invalid environment type: {env_type}")
        result = getattr(toolkit, call["func_name"])(**(call.get("arguments") or {}))
        self.sync_tools()
        return result

    def run_env_assertion(self, assertion: dict) -> bool:
        result = self.run_env_function_call(assertion)
        if not isinstance(result, bool):
            raise ValueError(f"Function {assertion['func_name']} returned {type(result)} instead of bool")
        return result == assertion.get("assert_value", True)

    def set_state(self, initial_state: dict | None, tool_calls: Iterable[dict] = ()) -> None:
        """The task's initial state, then the given tool calls replayed in order
        ({"name", "arguments", "requestor"})."""
        initial_state = initial_state or {}
        data = initial_state.get("initialization_data") or {}
        if data.get("agent_data") is not None:
            self.tools.update_db(data["agent_data"])
        if data.get("user_data") is not None:
            self.user_tools.update_db(data["user_data"])
        for action in initial_state.get("initialization_actions") or []:
            self.run_env_function_call(action)
        for call in tool_calls:
            self.get_response(call["name"], call.get("arguments") or {}, call.get("requestor", "assistant"))
        self.sync_tools()

    def db_hashes(self) -> tuple[str, str | None]:
        """(agent database hash, user database hash or None)."""
        return self.tools.db_hash(), (self.user_tools.db_hash() if self.user_tools else None)
