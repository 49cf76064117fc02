"""MessageAPI: a workspace messenger (BFCL multi-turn backend)."""

from __future__ import annotations

import random

from evalpack.benchmarks.bfcl.backends.base import Backend, config_value

DEFAULTS = {
    "generated_ids": set(), "user_count": 4,
    "user_map": {"Alice": "USR001", "Bob": "USR002", "Catherine": "USR003", "Daniel": "USR004"},
    "inbox": [{"USR002": "My name is Alice. I want to connect."},
              {"USR003": "Could you upload the file?"}, {"USR004": "Could you upload the file?"}],
    "message_count": 3, "current_user": None,
}
_NOT_LOGGED_IN = {"error": "No user is currently logged in."}


class MessageAPI(Backend):
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        self._noise = noise or {}
        self._random = random.Random(config.get("random_seed", 200191))
        for key, default in DEFAULTS.items():
            setattr(self, key, config_value(config, key, default))
        self.generated_ids = set(self.generated_ids)  # JSON configs carry it as a list

    def _new_id(self) -> dict:
        new_id = self._random.randint(10000, 99999)
        while new_id in self.generated_ids:
            new_id = self._random.randint(10000, 99999)
        self.generated_ids.add(new_id)
        return {"new_id": new_id}

    def list_users(self):
        return {"user_list": list(self.user_map)}

    def get_user_id(self, user: str):
        if user not in self.user_map:
            return {"error": f"User '{user}' not found in the workspace."}
        return {"user_id": self.user_map[user]}

    def message_login(self, user_id: str):
        if user_id not in self.user_map.values():
            return {"login_status": False, "message": f"User ID '{user_id}' not found."}
        self.current_user = user_id
        return {"login_status": True, "message": f"User '{user_id}' logged in successfully."}

    def message_get_login_status(self):
        return {"login_status": bool(self.current_user)}

    def send_message(self, receiver_id: str, message: str):
        if not self.current_user:
            return dict(_NOT_LOGGED_IN)
        if receiver_id not in self.user_map.values():
            return {"error": f"Receiver ID '{receiver_id}' not found."}
        message_id = self._new_id()
        self.inbox.append({receiver_id: message})
        self.message_count += 1
        return {"sent_status": True, "message_id": message_id,
                "message": f"Message sent to '{receiver_id}' successfully."}

    def delete_message(self, receiver_id: str):
        if not self.current_user:
            return dict(_NOT_LOGGED_IN)
        for i in range(len(self.inbox) - 1, -1, -1):
            receiver = next(iter(self.inbox[i]))  # first key, as upstream reads multi-key messages
            if receiver == receiver_id:
                del self.inbox[i]
                return {"deleted_status": True, "receiver_id": receiver,
                        "message": f"Receiver {receiver_id}'s latest message deleted successfully."}
        return {"error": f"Receiver ID {receiver_id} not found."}

    def view_messages_sent(self):
        if not self.current_user:
            return dict(_NOT_LOGGED_IN)
        sent: dict[str, list] = {}
        for message in self.inbox:
            receiver, text = next(iter(message.items()))
            sent.setdefault(receiver, []).append(text)
        return {"messages": sent}

    def add_contact(self, user_name: str):
        if user_name in self.user_map:
            return {"error": f"User name '{user_name}' already exists."}
        self.user_count += 1
        user_id = f"USR{str(self.user_count).zfill(3)}"
        if user_id in self.user_map.values():
            return {"error": f"User ID '{user_id}' already exists."}
        self.user_map[user_name] = user_id
        return {"added_status": True, "user_id": user_id, "message": f"Contact '{user_name}' added successfully."}

    def search_messages(self, keyword: str):
        if not self.current_user:
            return dict(_NOT_LOGGED_IN)
        needle = keyword.lower()
        hits = []
        for message in self.inbox:
            receiver, text = next(iter(message.items()))
            if needle in text.lower():
                hits.append({"receiver_id": receiver, "message": text})
        return {"results": hits}

    def get_message_stats(self):
        if not self.current_user:
            return dict(_NOT_LOGGED_IN)
        contacts = {next(iter(m)) for m in self.inbox}
        return {"stats": {"received_count": len(self.inbox), "total_contacts": len(contacts)}}
