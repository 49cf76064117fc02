"""tau2 telecom, the customer's side: the simulated phone and its surroundings, and the
tools the simulated user calls on it, behaving as upstream's (`telecom/user_tools.py`,
`user_data_model.py`). The agent cannot touch the phone: it asks the user to.

One deliberate difference: upstream shares ONE class-level `VpnDetails` between all
phones, so a VPN broken in one task stays broken in the next one run by the same process.
Here each phone gets its own copy; within an episode the aliasing upstream relies on
(break_vpn degrades the profile that a later connect_vpn re-uses) is kept.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, Literal, Optional, Tuple, Union

from pydantic import Field

from evalpack.benchmarks.tau2_bench.toolkit import (DB, READ, WRITE, BaseModelNoExtra, Toolkit,
                                                    tool)


class SimStatus(str, Enum):
    ACTIVE = "active"
    MISSING = "missing"
    LOCKED_PIN = "locked_pin"
    LOCKED_PUK = "locked_puk"


class NetworkTechnology(str, Enum):
    NONE = "none"
    TWO_G = "2G"
    THREE_G = "3G"
    FOUR_G = "4G"
    FIVE_G = "5G"


class NetworkModePreference(str, Enum):
    FOUR_G_5G_PREFERRED = "4g_5g_preferred"
    FOUR_G_ONLY = "4g_only"
    THREE_G_ONLY = "3g_only"
    TWO_G_ONLY = "2g_only"


class SignalStrength(str, Enum):
    NONE = "none"
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


class PerformanceLevel(str, Enum):
    UNKNOWN = "unknown"
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


class NetworkStatus(str, Enum):
    CONNECTED = "connected"
    SEARCHING = "searching"
    NO_SERVICE = "no_service"
    EMERGENCY_ONLY = "emergency_only"


class APNNames(str, Enum):
    INTERNET = "internet"
    BROKEN = "broken"


class APNSettings(BaseModelNoExtra):
    apn_name: APNNames = APNNames.INTERNET
    reset_at_reboot: bool = False
    mms_apn: Optional[str] = "mms"
    mmsc_url: Optional[str] = "http://mms.carrier.com/mms/wapenc"
    mms_proxy: Optional[str] = None
    mms_port: Optional[int] = None


class VpnDetails(BaseModelNoExtra):
    server_address: Optional[str] = None
    protocol: Optional[str] = None
    server_performance: PerformanceLevel = Field(default=PerformanceLevel.UNKNOWN, validate_default=True)


class AppPermissions(BaseModelNoExtra):
    sms: bool = False
    storage: bool = False
    phone: bool = False
    network: bool = False


class AppStatus(BaseModelNoExtra):
    app_name: str
    permissions: AppPermissions = Field(default_factory=AppPermissions)


def _default_apps() -> dict:
    return {"messaging": AppStatus(app_name="messaging", permissions=AppPermissions(sms=True, storage=True, phone=True)),
            "browser": AppStatus(app_name="browser", permissions=AppPermissions(network=True, storage=True))}


def _validated(value: Any) -> Any:
    return Field(default=value, validate_default=True)


class MockPhoneAttributes(BaseModelNoExtra):
    sim_card_status: SimStatus = _validated(SimStatus.ACTIVE)
    sim_card_missing: bool = False
    airplane_mode: bool = False
    network_signal_strength: SignalStrength = _validated(SignalStrength.GOOD)
    network_technology_connected: NetworkTechnology = _validated(NetworkTechnology.FIVE_G)
    network_connection_status: NetworkStatus = _validated(NetworkStatus.CONNECTED)
    battery_level: int = 80
    data_enabled: bool = True
    roaming_enabled: bool = False
    network_mode_preference: NetworkModePreference = _validated(NetworkModePreference.FOUR_G_5G_PREFERRED)
    active_apn_settings: APNSettings = Field(default_factory=APNSettings)
    wifi_enabled: bool = False
    wifi_connected: bool = False
    wifi_ssid: Optional[str] = None
    wifi_signal_strength: SignalStrength = _validated(SignalStrength.NONE)
    wifi_calling_enabled: bool = False
    wifi_calling_mms_over_wifi: bool = False
    data_saver_mode: bool = False
    vpn_enabled_setting: bool = False
    vpn_connected: bool = False
    vpn_details: Optional[VpnDetails] = None
    app_statuses: Dict[str, AppStatus] = Field(default_factory=_default_apps)


class PaymentRequest(BaseModelNoExtra):
    bill_id: str
    amount_due: float
    paid: bool = False


def _default_signal() -> dict:
    return {NetworkTechnology.TWO_G: SignalStrength.POOR, NetworkTechnology.THREE_G: SignalStrength.FAIR,
            NetworkTechnology.FOUR_G: SignalStrength.GOOD, NetworkTechnology.FIVE_G: SignalStrength.EXCELLENT}


class UserSurroundings(BaseModelNoExtra):
    name: Optional[str] = None
    phone_number: Optional[str] = None
    is_abroad: bool = False
    roaming_allowed: bool = False
    signal_strength: dict[NetworkTechnology, SignalStrength] = Field(default_factory=_default_signal)
    mobile_data_usage_exceeded: bool = False
    line_active: bool = True
    payment_request: Optional[PaymentRequest] = None


class TelecomUserDB(DB):
    device: MockPhoneAttributes = Field(default_factory=MockPhoneAttributes)
    surroundings: UserSurroundings = Field(default_factory=UserSurroundings)


SIGNAL_ICONS = {SignalStrength.NONE: "📵 No Signal", SignalStrength.POOR: "📶¹ Poor",
                SignalStrength.FAIR: "📶² Fair", SignalStrength.GOOD: "📶³ Good",
                SignalStrength.EXCELLENT: "📶⁴ Excellent"}
SPEED_RANGE_MBPS = {NetworkTechnology.TWO_G: (0.1, 0.4), NetworkTechnology.THREE_G: (1.0, 5.0),
                    NetworkTechnology.FOUR_G: (10.0, 100.0), NetworkTechnology.FIVE_G: (50.0, 500.0),
                    NetworkTechnology.NONE: (0.0, 0.0)}
SIGNAL_FACTOR = {SignalStrength.POOR: 0.2, SignalStrength.FAIR: 0.5, SignalStrength.GOOD: 0.8,
                 SignalStrength.EXCELLENT: 1.0, SignalStrength.NONE: 0.0}
SPEED_ADVICE = {"Very Poor": "Connection is very slow. Basic web browsing might be difficult.",
                "Poor": "Connection is slow. Web browsing may be sluggish, streaming difficult.",
                "Fair": "Connection is okay for web browsing and some standard definition streaming.",
                "Good": "Connection is good for most activities, including HD streaming.",
                "Excellent": "Connection is very fast."}
MODE_TECHNOLOGY = ((NetworkModePreference.FOUR_G_ONLY, NetworkTechnology.FOUR_G),
                   (NetworkModePreference.THREE_G_ONLY, NetworkTechnology.THREE_G),
                   (NetworkModePreference.TWO_G_ONLY, NetworkTechnology.TWO_G))
SIM_MESSAGES = {SimStatus.ACTIVE: "Your SIM card is active and working.",
                SimStatus.MISSING: "No SIM card detected in the phone.",
                SimStatus.LOCKED_PIN: "The SIM card is locked with a PIN code.",
                SimStatus.LOCKED_PUK: "The SIM card is locked with a PUK code."}


def _on_off(flag: bool) -> str:
    return "ON" if flag else "OFF"


def _granted(permissions: AppPermissions) -> list[str]:
    return [name.replace("_", " ").lower() for name, allowed in permissions.model_dump().items() if allowed]


class TelecomUserTools(Toolkit):
    db: TelecomUserDB

    def __init__(self, db: TelecomUserDB) -> None:
        super().__init__(db)
        self.default_vpn_details = VpnDetails(server_address="192.168.1.1", protocol="OpenVPN",
                                              server_performance=PerformanceLevel.EXCELLENT)

    @property
    def device(self) -> MockPhoneAttributes:
        return self.db.device

    @property
    def surroundings(self) -> UserSurroundings:
        return self.db.surroundings

    def _with_status_bar(self, text: str) -> str:
        return f"{text}\nStatus Bar: {self._check_status_bar()}"

    # --- scenario set-up (called by tasks, never by the model) -------------------------------
    def set_user_info(self, name: str, phone_number: str):
        self.db.surroundings.name = name
        self.db.surroundings.phone_number = phone_number

    def set_user_location(self, abroad: bool):
        self.db.surroundings.is_abroad = abroad

    # --- status --------------------------------------------------------------------------
    @tool(READ)
    def check_status_bar(self) -> str:
        return f"Status Bar: {self._check_status_bar()}"

    def _check_status_bar(self) -> str:
        device = self.device
        shown = []
        if device.airplane_mode:
            shown.append("✈️ Airplane Mode")
        else:
            shown.append(SIGNAL_ICONS.get(device.network_signal_strength, "📵 No Signal"))
            if device.network_technology_connected != NetworkTechnology.NONE:
                shown.append(device.network_technology_connected.value)
            if device.data_enabled and device.network_technology_connected != NetworkTechnology.NONE:
                shown.append("📱 Data Enabled")
                if device.data_saver_mode:
                    shown.append("🔽 Data Saver")
            else:
                shown.append("📵 Data Disabled")
        if device.wifi_enabled and device.wifi_connected:
            shown.append(f"📡 Connected to {device.wifi_ssid}" if device.wifi_ssid else "📡 Enabled")
        if device.vpn_connected:
            shown.append("🔒 VPN Connected")
        shown.append(f"🔋 {device.battery_level}%")
        return " | ".join(shown)

    @tool(READ)
    def check_network_status(self) -> str:
        d = self.device
        lines = [f"Airplane Mode: {_on_off(d.airplane_mode)}",
                 f"SIM Card Status: {self._check_sim_status().value}",
                 f"Cellular Connection: {d.network_connection_status.value}",
                 f"Cellular Signal: {d.network_signal_strength.value}",
                 f"Cellular Network Type: {d.network_technology_connected.value}",
                 f"Mobile Data Enabled: {'Yes' if d.data_enabled else 'No'}",
                 f"Data Roaming Enabled: {'Yes' if d.roaming_enabled else 'No'}",
                 f"Wi-Fi Radio: {_on_off(d.wifi_enabled)}",
                 f"Wi-Fi Connected: {'Yes' if d.wifi_connected else 'No'}"]
        if d.wifi_connected:
            lines.append(f"Connected Wi-Fi Network: {d.wifi_ssid}")
        return "\n".join(lines)

    @tool(READ)
    def check_network_mode_preference(self) -> str:
        return f"Network Mode Preference: {self.device.network_mode_preference.value}"

    @tool(WRITE)
    def set_network_mode_preference(self, mode: Union[NetworkModePreference, str]) -> str:
        valid = self._set_network_mode_preference(mode)
        if valid is None:
            options = ", ".join(m.value for m in NetworkModePreference)
            return self._with_status_bar(
                f"Failed to set network mode: '{mode}' is not a valid option. Please use one of: {options}")
        return self._with_status_bar(f"Preferred Network Mode set to: {valid.value}")

    def _set_network_mode_preference(self, mode) -> Optional[NetworkModePreference]:
        try:
            if isinstance(mode, str):
                mode = NetworkModePreference(mode)
            self.device.network_mode_preference = mode
            self.simulate_network_search()
            return mode
        except ValueError:
            return None

    def _get_mobile_data_working(self) -> bool:
        d, s = self.device, self.surroundings
        if d.airplane_mode or d.network_signal_strength == SignalStrength.NONE:
            return False
        if d.network_connection_status == NetworkStatus.NO_SERVICE:
            return False
        if s.is_abroad and (not d.roaming_enabled or not s.roaming_allowed):
            return False
        if not d.data_enabled:
            return False
        return not s.mobile_data_usage_exceeded

    @tool(READ)
    def run_speed_test(self) -> str:
        speed, description = self._run_speed_test()
        if speed is None:
            return f"Speed test failed: {description or 'Could not determine speed'}."
        return f"Speed Test Result: {speed:.2f} Mbps ({description}). {SPEED_ADVICE.get(description, '')}"

    def _run_speed_test(self) -> Tuple[Optional[float], Optional[str]]:
        d = self.device
        if not self._get_mobile_data_working():
            return None, "No Connection"
        factor = 1.0
        if d.vpn_connected and d.vpn_details and d.vpn_details.server_performance == PerformanceLevel.POOR:
            factor = 0.1
        if d.data_saver_mode:
            factor *= 0.2
        low, high = SPEED_RANGE_MBPS.get(d.network_technology_connected, (0.0, 0.0))
        speed = round((low + high) / 2.0 * SIGNAL_FACTOR.get(d.network_signal_strength, 0.0) * factor, 2)
        for bound, label in ((1, "Very Poor"), (5, "Poor"), (25, "Fair"), (100, "Good")):
            if speed < bound:
                return speed, label
        return speed, "Excellent"

    # --- airplane mode, SIM ----------------------------------------------------------------
    @tool(WRITE)
    def toggle_airplane_mode(self) -> str:
        return self._with_status_bar(f"Airplane Mode is now {_on_off(self._toggle_airplane_mode())}.")

    def _toggle_airplane_mode(self) -> bool:
        d = self.device
        was_on = d.airplane_mode
        d.airplane_mode = not was_on
        if was_on:
            d.network_connection_status = NetworkStatus.SEARCHING
            if d.wifi_enabled:
                self._drop_wifi()
        else:
            self._drop_wifi()
            if d.vpn_connected:
                self._disconnect_vpn()
        self.simulate_network_search()
        return d.airplane_mode

    def _drop_wifi(self) -> None:
        self.device.wifi_connected = False
        self.device.wifi_ssid = None
        self.device.wifi_signal_strength = SignalStrength.NONE

    def turn_airplane_mode_on(self) -> str:
        if not self._toggle_airplane_mode():
            self._toggle_airplane_mode()
        return "Airplane Mode is now ON."

    def turn_airplane_mode_off(self) -> str:
        if self._toggle_airplane_mode():
            self._toggle_airplane_mode()
        return "Airplane Mode is now OFF."

    @tool(READ)
    def check_sim_status(self) -> str:
        status = self._check_sim_status()
        return SIM_MESSAGES.get(status, f"Unknown SIM status: {status.value}")

    def _check_sim_status(self) -> SimStatus:
        return SimStatus.MISSING if self.device.sim_card_missing else self.device.sim_card_status

    @tool(WRITE)
    def reseat_sim_card(self) -> str:
        self.device.sim_card_missing = False
        self.simulate_network_search()
        return self._with_status_bar("SIM card re-seated successfully.")

    def unseat_sim_card(self) -> str:
        self.device.sim_card_missing = True
        self.simulate_network_search()
        return "SIM card un-seated successfully."

    def lock_sim_card(self, mode: Literal["pin", "puk"]) -> str:
        if mode == "pin":
            self.device.sim_card_status = SimStatus.LOCKED_PIN
        elif mode == "puk":
            self.device.sim_card_status = SimStatus.LOCKED_PUK
        self.simulate_network_search()
        return f"SIM card locked successfully in {mode} mode."

    # --- mobile data, roaming, data saver ----------------------------------------------------
    @tool(WRITE)
    def toggle_data(self) -> str:
        return self._with_status_bar(f"Mobile Data is now {_on_off(self._toggle_data())}.")

    def _toggle_data(self) -> bool:
        self.device.data_enabled = not self.device.data_enabled
        self.simulate_network_search()
        return self.device.data_enabled

    def turn_data_on(self) -> str:
        self.device.data_enabled = True
        return "Data connection restored."

    def turn_data_off(self) -> str:
        if self._toggle_data():
            self._toggle_data()
        return "Data connection broken."

    @tool(WRITE)
    def toggle_roaming(self) -> str:
        return self._with_status_bar(f"Data Roaming is now {_on_off(self._toggle_roaming())}.")

    def _toggle_roaming(self) -> bool:
        self.device.roaming_enabled = not self.device.roaming_enabled
        self.simulate_network_search()
        return self.device.roaming_enabled

    def turn_roaming_on(self) -> str:
        if not self._toggle_roaming():
            self._toggle_roaming()
        return "Data Roaming is now ON."

    def turn_roaming_off(self) -> str:
        if self._toggle_roaming():
            self._toggle_roaming()
        return "Data Roaming is now OFF."

    @tool(READ)
    def check_data_restriction_status(self) -> str:
        return "Data Saver mode is ON (limits data usage)." if self.device.data_saver_mode else "Data Saver mode is OFF."

    @tool(WRITE)
    def toggle_data_saver_mode(self) -> str:
        return self._with_status_bar(f"Data Saver Mode is now {_on_off(self._toggle_data_saver_mode())}.")

    def _toggle_data_saver_mode(self) -> bool:
        self.device.data_saver_mode = not self.device.data_saver_mode
        return self.device.data_saver_mode

    def turn_data_saver_mode_on(self) -> str:
        if not self._toggle_data_saver_mode():
            self._toggle_data_saver_mode()
        return "Data Saver Mode is now ON."

    def turn_data_saver_mode_off(self) -> str:
        if self._toggle_data_saver_mode():
            self._toggle_data_saver_mode()
        return "Data Saver Mode is now OFF."

    # --- APN ---------------------------------------------------------------------------------
    @tool(READ)
    def check_apn_settings(self) -> str:
        settings = self.device.active_apn_settings.model_copy(deep=True)
        return (f"Current APN Name: {settings.apn_name.value or 'Not Set'}\n"
                f"MMSC URL (for picture messages): {settings.mmsc_url or 'Not Set'}\n"
                "(These are technical settings, usually best left unchanged.)")

    @tool(WRITE)
    def set_apn_settings(self, apn_settings: Union[APNSettings, dict]) -> str:
        if isinstance(apn_settings, dict):
            apn_settings = APNSettings(**apn_settings)
        self.device.active_apn_settings = apn_settings
        status = f"APN settings set to: {apn_settings.apn_name.value}"
        self.simulate_network_search()
        return self._with_status_bar(status)

    @tool(WRITE)
    def reset_apn_settings(self) -> str:
        self.device.active_apn_settings.reset_at_reboot = True
        self.simulate_network_search()
        return self._with_status_bar("APN settings will reset at reboot.")

    def break_apn_settings(self) -> str:
        self.device.active_apn_settings.apn_name = APNNames.BROKEN
        self.simulate_network_search()
        return "APN settings broken. Please call reset_apn_settings() to fix."

    def break_apn_mms_setting(self) -> str:
        self.device.active_apn_settings.mmsc_url = None
        return "APN MMS setting broken. Please call reset_apn_settings() to fix."

    # --- Wi-Fi, Wi-Fi calling --------------------------------------------------------------
    @tool(READ)
    def check_wifi_status(self) -> str:
        d = self.device
        if not d.wifi_enabled:
            return "Wi-Fi is turned OFF."
        if d.wifi_connected:
            return f"Wi-Fi is ON and connected to '{d.wifi_ssid}'. Signal strength: {d.wifi_signal_strength.value}."
        return "Wi-Fi is ON but not connected to any network."

    @tool(WRITE)
    def toggle_wifi(self) -> str:
        if self.device.airplane_mode:
            return self._with_status_bar("Cannot change Wi-Fi settings while Airplane Mode is ON.")
        self.device.wifi_enabled = not self.device.wifi_enabled
        if not self.device.wifi_enabled:
            self._drop_wifi()
        return self._with_status_bar(f"Wi-Fi is now {_on_off(self.device.wifi_enabled)}.")

    @tool(READ)
    def check_wifi_calling_status(self) -> str:
        return f"Wi-Fi Calling is currently turned {_on_off(self.device.wifi_calling_enabled)}."

    @tool(WRITE)
    def toggle_wifi_calling(self) -> str:
        return self._with_status_bar(f"Wi-Fi Calling is now {_on_off(self._toggle_wifi_calling())}.")

    def _toggle_wifi_calling(self) -> bool:
        self.device.wifi_calling_enabled = not self.device.wifi_calling_enabled
        return self.device.wifi_calling_enabled

    def set_wifi_calling(self, enabled: bool, mms_over_wifi: Optional[bool] = None) -> str:
        if self.device.wifi_calling_enabled != enabled:
            self._toggle_wifi_calling()
        message = f"Wi-Fi Calling is now {_on_off(enabled)}."
        if mms_over_wifi is not None:
            self.device.wifi_calling_mms_over_wifi = mms_over_wifi
            message += f"\nMMS over Wi-Fi is now {_on_off(mms_over_wifi)}."
        return message

    # --- VPN ---------------------------------------------------------------------------------
    @tool(READ)
    def check_vpn_status(self) -> str:
        d = self.device
        if d.vpn_connected:
            details = d.vpn_details.model_dump() if d.vpn_details else None
            if details:
                return f"VPN is ON and connected. Details: {details}"
            return "VPN is ON and connected (no specific details available)."
        if d.vpn_enabled_setting:
            return "VPN is turned ON in settings, but currently not connected."
        return "VPN is turned OFF."

    @tool(WRITE)
    def connect_vpn(self) -> str:
        if self.device.vpn_connected:
            return "VPN already connected."
        self.device.vpn_connected = True
        self.device.vpn_details = self.default_vpn_details
        return self._with_status_bar("VPN connected successfully.")

    @tool(WRITE)
    def disconnect_vpn(self) -> str:
        text = ("VPN disconnected successfully." if self._disconnect_vpn()
                else "No active VPN connection to disconnect.")
        return self._with_status_bar(text)

    def _disconnect_vpn(self) -> bool:
        if not self.device.vpn_connected:
            return False
        self.device.vpn_connected = False
        self.device.vpn_details = None
        return True

    def break_vpn(self) -> str:
        self.connect_vpn()
        self.device.vpn_details.server_performance = PerformanceLevel.POOR
        return "VPN connection broken."

    # --- apps --------------------------------------------------------------------------------
    @tool(READ)
    def check_installed_apps(self) -> str:
        return f"The following apps are installed on the phone: {', '.join(self.device.app_statuses.keys())}"

    @tool(READ)
    def check_app_status(self, app_name: str) -> str:
        app = self.device.app_statuses.get(app_name)
        if not app:
            return f"App '{app_name}' not found on this phone."
        lines = [f"Status for App: {app_name}"]
        granted = _granted(app.permissions)
        if not granted:
            lines.append(" - Permissions: None granted.")
        else:
            lines.append(" - Permissions Granted:")
            lines.extend(f"   - {perm}" for perm in granted)
        return "\n".join(lines)

    @tool(READ)
    def check_app_permissions(self, app_name: str) -> str:
        app = self.device.app_statuses.get(app_name)
        if not app:
            return f"App '{app_name}' not found on this phone."
        granted = _granted(app.permissions)
        if not granted:
            return f"App '{app_name}' currently has no permissions granted."
        return f"App '{app_name}' has permission for: {', '.join(granted)}."

    @tool(WRITE)
    def grant_app_permission(self, app_name: str, permission: str) -> str:
        app = self.device.app_statuses.get(app_name)
        permission = permission.lower()
        if not app:
            ok, text = False, f"App '{app_name}' not found. Cannot grant permission."
        else:
            known = list(app.permissions.model_dump().keys())
            if permission not in known:
                ok, text = False, (f"Permission '{permission}' not tracked for app '{app_name}', "
                                   f"available permissions: {known}")
            else:
                setattr(app.permissions, permission, True)
                ok, text = True, f"Permission '{permission}' granted to app '{app_name}'."
        return self._with_status_bar(f"{'Success. ' if ok else 'Error. '}{text}")

    def remove_app_permission(self, app_name: str, permission: str) -> Tuple[bool, str]:
        app = self.device.app_statuses.get(app_name)
        permission = permission.lower()
        if not app:
            return False, f"App '{app_name}' not found. Cannot remove permission."
        if not hasattr(app.permissions, permission):
            return False, f"Permission '{permission}' not tracked for app '{app_name}'."
        setattr(app.permissions, permission, False)
        return True, f"Permission '{permission}' removed from app '{app_name}'."

    @tool(READ)
    def can_send_mms(self) -> str:
        if self._can_send_mms():
            return "Your messaging app can send MMS messages."
        return "Your messaging app cannot send MMS messages."

    def _can_send_mms(self) -> bool:
        d = self.device
        if not self._get_mobile_data_working():
            return False
        if d.network_technology_connected == NetworkTechnology.TWO_G:
            return False
        if d.wifi_calling_enabled and d.wifi_calling_mms_over_wifi:
            return False
        if d.active_apn_settings.mmsc_url is None:
            return False
        messaging = d.app_statuses.get("messaging")
        if messaging is None:
            return False
        return messaging.permissions.storage and messaging.permissions.sms

    # --- reboot, network search ----------------------------------------------------------------
    @tool(WRITE)
    def reboot_device(self) -> str:
        lines = []
        if self.device.active_apn_settings.reset_at_reboot:
            lines.append("Resetting APN settings...")
            self.device.active_apn_settings = APNSettings()
        lines.append("Restarting network services...")
        self.device.network_connection_status = NetworkStatus.SEARCHING
        self.simulate_network_search()
        return self._with_status_bar("\n".join(lines))

    def simulate_network_search(self):
        d, signal = self.device, self.surroundings.signal_strength
        if self._check_sim_status() == SimStatus.ACTIVE:
            d.network_connection_status = NetworkStatus.CONNECTED
            preference = d.network_mode_preference
            if preference == NetworkModePreference.FOUR_G_5G_PREFERRED:
                five_g = signal.get(NetworkTechnology.FIVE_G, SignalStrength.NONE)
                if five_g == SignalStrength.NONE:
                    d.network_technology_connected = NetworkTechnology.FOUR_G
                    d.network_signal_strength = signal.get(NetworkTechnology.FOUR_G, SignalStrength.NONE)
                else:
                    d.network_technology_connected = NetworkTechnology.FIVE_G
                    d.network_signal_strength = five_g
            else:
                # compared one by one, as upstream does: the preference may hold any value
                technology = next((tech for mode, tech in MODE_TECHNOLOGY if preference == mode),
                                  NetworkTechnology.FOUR_G)
                d.network_technology_connected = technology
                d.network_signal_strength = signal.get(technology, SignalStrength.NONE)
        else:
            self._no_service()
        if (d.airplane_mode or d.active_apn_settings.apn_name == APNNames.BROKEN
                or not self.surroundings.line_active):
            self._no_service()

    def _no_service(self) -> None:
        self.device.network_connection_status = NetworkStatus.NO_SERVICE
        self.device.network_technology_connected = NetworkTechnology.NONE
        self.device.network_signal_strength = SignalStrength.NONE

    # --- payments ------------------------------------------------------------------------------
    @tool(READ)
    def check_payment_request(self) -> str:
        request = self.surroundings.payment_request
        if request is None:
            return "No payment request has been made."
        return f"You have a payment request for bill {request.bill_id} of {request.amount_due} USD."

    @tool(WRITE)
    def make_payment(self) -> str:
        request = self.surroundings.payment_request
        if request is None:
            return "You do not have a payment request."
        request.paid = True
        return f"Payment of {request.amount_due} USD has been made for bill {request.bill_id}."

    # --- assertions (the tasks' success conditions) ----------------------------------------------
    def assert_airplane_mode_status(self, expected_status: bool) -> bool:
        return self.device.airplane_mode == expected_status

    def assert_service_status(self, expected_status: str) -> bool:
        return self.device.network_connection_status == NetworkStatus(expected_status)

    def assert_mobile_data_status(self, expected_status: bool) -> bool:
        return self._get_mobile_data_working() == expected_status

    def assert_mobile_roaming_status(self, expected_status: bool) -> bool:
        return self.device.roaming_enabled == expected_status

    def assert_mobile_data_saver_mode_status(self, expected_status: bool) -> bool:
        return self.device.data_saver_mode == expected_status

    def assert_internet_speed(self, expected_speed: float, expected_desc: Optional[str] = None) -> bool:
        speed, desc = self._run_speed_test()
        speed = speed or 0.0
        if expected_desc is None:
            return speed >= expected_speed
        return speed >= expected_speed and desc.lower() == expected_desc.lower()

    def assert_internet_not_excellent(self) -> bool:
        return self._run_speed_test()[1].lower() != "excellent"

    def assert_can_send_mms(self, expected_status: bool) -> bool:
        return self._can_send_mms() == expected_status

    def assert_mobile_data_usage_exceeded(self, expected_status: bool) -> bool:
        return self.surroundings.mobile_data_usage_exceeded == expected_status
