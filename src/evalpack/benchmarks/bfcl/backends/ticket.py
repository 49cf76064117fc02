"""TicketAPI: a support-ticket queue (BFCL multi-turn backend)."""

from __future__ import annotations

from evalpack.benchmarks.bfcl.backends.base import Backend, config_value

DEFAULTS = {"ticket_queue": [], "ticket_counter": 1, "current_user": None}


class TicketAPI(Backend):
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        self._noise = noise or {}
        for key, default in DEFAULTS.items():
            setattr(self, key, config_value(config, key, default))

    def _find(self, ticket_id):
        return next((t for t in self.ticket_queue if t["id"] == ticket_id), None)

    def create_ticket(self, title: str, description: str = "", priority: int = 1):
        if not self.current_user:
            return {"error": "User not authenticated. Please log in to create a ticket."}
        if priority < 1 or priority > 5:
            return {"error": "Invalid priority. Priority must be between 1 and 5."}
        ticket = {"id": self.ticket_counter, "title": title, "description": description,
                  "status": "Open", "priority": priority, "created_by": self.current_user}
        self.ticket_queue.append(ticket)
        self.ticket_counter += 1
        return ticket

    def get_ticket(self, ticket_id: int):
        ticket = self._find(ticket_id)
        return ticket if ticket else {"error": f"Ticket with ID {ticket_id} not found."}

    def close_ticket(self, ticket_id: int):
        ticket = self._find(ticket_id)
        if not ticket:
            return {"error": f"Ticket with ID {ticket_id} not found."}
        if ticket["status"] == "Closed":
            return {"error": f"Ticket with ID {ticket_id} is already closed."}
        ticket["status"] = "Closed"
        return {"status": f"Ticket {ticket_id} has been closed successfully."}

    def resolve_ticket(self, ticket_id: int, resolution: str):
        ticket = self._find(ticket_id)
        if not ticket:
            return {"error": f"Ticket with ID {ticket_id} not found."}
        if ticket["status"] == "Resolved":
            return {"error": f"Ticket with ID {ticket_id} is already resolved."}
        ticket["status"] = "Resolved"
        ticket["resolution"] = resolution
        return {"status": f"Ticket {ticket_id} has been resolved successfully."}

    def edit_ticket(self, ticket_id: int, updates: dict):
        ticket = self._find(ticket_id)
        if not ticket:
            return {"error": f"Ticket with ID {ticket_id} not found."}
        invalid = [k for k in updates if k not in ("title", "description", "status", "priority")]
        if invalid:
            return {"error": f"Invalid fields for update: {', '.join(invalid)}"}
        for key, value in updates.items():
            if value is not None:
                ticket[key] = value
        return {"status": f"Ticket {ticket_id} has been updated successfully."}

    def ticket_login(self, username: str, password: str):
        if username and password:
            self.current_user = username
            return {"success": True}
        return {"success": False}

    def ticket_get_login_status(self):
        return {"login_status": bool(self.current_user)}

    def logout(self):
        if self.current_user:
            self.current_user = None
            return {"success": True}
        return {"success": False}

    def get_user_tickets(self, status: str | None = None):
        if not self.current_user:
            return [{"error": "User not authenticated. Please log in to view tickets."}]
        tickets = [t for t in self.ticket_queue if t["created_by"] == self.current_user]
        if status:
            tickets = [t for t in tickets if t["status"].lower() == status.lower()]
        return tickets
