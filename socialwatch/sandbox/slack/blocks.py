"""Block Kit validation, as Slack's ``invalid_blocks`` answers it, and element lookup.

Slack fills in the ``block_id`` / ``action_id`` a client leaves out; so does ``check_blocks``.
"""

from __future__ import annotations

import copy
from typing import Any

from socialwatch.sandbox.slack.model import B62, MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, SlackError, rand

_TEXT_TYPES = ("plain_text", "mrkdwn")
_MESSAGE_BLOCKS = {
    "section",
    "context",
    "actions",
    "divider",
    "header",
    "image",
    "rich_text",
    "markdown",
    "file",
    "video",
    "context_actions",
    "table",
}
_INTERACTIVE = {
    "button",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_users_select",
    "multi_external_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "image",
    "workflow_button",
    "file_input",
}


class _BlockChecker:
    """Enough of Block Kit's rules to refuse obviously broken blocks with ``invalid_blocks``.

    Slack also fills in the ``block_id`` / ``action_id`` a client left out; so does this.
    """

    def __init__(self, *, in_view: bool) -> None:
        self.in_view = in_view
        self.errors: list[str] = []

    def fail(self, pointer: str, message: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail(pointer, "must provide an object")
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else _TEXT_TYPES
        if kind not in allowed:
            self.fail(pointer + "/type", f"must be one of {list(allowed)}")
        text = obj.get("text")
        if not isinstance(text, str):
            self.fail(pointer + "/text", "must provide a string")
        elif not text:
            self.fail(pointer + "/text", "must be more than 0 characters")
        elif len(text) > max_len:
            self.fail(pointer + "/text", f"must be less than {max_len + 1} characters")

    def element(self, el: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(el, dict):
            self.fail(pointer, "must provide an object")
            return
        kind = el.get("type")
        if kind not in _INTERACTIVE:
            self.fail(pointer + "/type", "must be a valid element type")
            return
        if kind == "image":
            if not el.get("image_url") and not el.get("slack_file"):
                self.fail(pointer, "must provide image_url or slack_file")
            return
        action_id = el.get("action_id")
        if action_id is None:
            el["action_id"] = rand(4, B62)
        elif not isinstance(action_id, str) or not action_id or len(action_id) > 255:
            self.fail(pointer + "/action_id", "must be a string of 1-255 characters")
        elif action_id in action_ids:
            self.fail(pointer + "/action_id", f"action_id {action_id!r} already exists")
        action_ids.add(str(el["action_id"]))
        if kind == "button":
            self.text(el.get("text"), pointer + "/text", max_len=75, plain_only=True)
            value = el.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.fail(pointer + "/value", "must be a string of at most 2000 characters")
            if el.get("style") not in (None, "primary", "danger"):
                self.fail(pointer + "/style", "must be one of [primary, danger]")
            url = el.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.fail(pointer + "/url", "must be a string of at most 3000 characters")
        elif kind in ("static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"):
            options = el.get("options")
            groups = el.get("option_groups")
            if options is None and groups is None:
                self.fail(pointer, "must provide options or option_groups")
            for i, option in enumerate(options or []):
                if not isinstance(option, dict) or "value" not in option:
                    self.fail(f"{pointer}/options/{i}", "must provide an option with a value")

    def blocks(self, blocks: Any) -> list[dict[str, Any]]:
        limit = MAX_VIEW_BLOCKS if self.in_view else MAX_MESSAGE_BLOCKS
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if len(blocks) > limit:
            self.fail("/blocks", f"must contain at most {limit} blocks")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            pointer = f"/blocks/{i}"
            if not isinstance(block, dict):
                self.fail(pointer, "must provide an object")
                continue
            kind = block.get("type")
            allowed = _MESSAGE_BLOCKS | ({"input"} if self.in_view else set())
            if kind not in allowed:
                self.fail(pointer + "/type", "unsupported type" if kind else "missing required field: type")
                continue
            block_id = block.get("block_id")
            if block_id is None:
                block["block_id"] = rand(4, B62)
            elif not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                self.fail(pointer + "/block_id", "must be a string of 1-255 characters")
            elif block_id in block_ids:
                self.fail(pointer + "/block_id", f"block_id {block_id!r} already exists")
            block_ids.add(str(block["block_id"]))
            action_ids: set[str] = set()
            if kind == "section":
                if "text" not in block and "fields" not in block:
                    self.fail(pointer, "must provide text or fields")
                if "text" in block:
                    self.text(block["text"], pointer + "/text", max_len=3000)
                fields = block.get("fields")
                if fields is not None:
                    if not isinstance(fields, list) or len(fields) > 10:
                        self.fail(pointer + "/fields", "must be a list of at most 10 items")
                    else:
                        for j, item in enumerate(fields):
                            self.text(item, f"{pointer}/fields/{j}", max_len=2000)
                if "accessory" in block:
                    self.element(block["accessory"], pointer + "/accessory", action_ids)
            elif kind == "header":
                self.text(block.get("text"), pointer + "/text", max_len=150, plain_only=True)
            elif kind == "context":
                elements = block.get("elements")
                if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                    self.fail(pointer + "/elements", "must provide 1-10 elements")
                else:
                    for j, el in enumerate(elements):
                        if isinstance(el, dict) and el.get("type") == "image":
                            continue
                        self.text(el, f"{pointer}/elements/{j}", max_len=3000)
            elif kind == "actions":
                elements = block.get("elements")
                if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                    self.fail(pointer + "/elements", "must provide 1-25 elements")
                else:
                    for j, el in enumerate(elements):
                        self.element(el, f"{pointer}/elements/{j}", action_ids)
            elif kind == "input":
                self.text(block.get("label"), pointer + "/label", max_len=2000, plain_only=True)
                self.element(block.get("element"), pointer + "/element", action_ids)
            elif kind == "image" and not block.get("image_url") and not block.get("slack_file"):
                self.fail(pointer, "must provide image_url or slack_file")
        return blocks


def check_blocks(blocks: Any, *, in_view: bool = False) -> list[dict[str, Any]]:
    """Validated blocks (with block/action ids filled in) or SlackError(invalid_blocks)."""
    checker = _BlockChecker(in_view=in_view)
    checked = checker.blocks(copy.deepcopy(blocks))
    if checker.errors:
        raise SlackError("invalid_blocks", errors=checker.errors, response_metadata={"messages": checker.errors})
    return checked


def iter_elements(blocks: list[Any] | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (block, interactive element) pair of a message or view."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            found.extend((block, el) for el in block.get("elements") or [] if isinstance(el, dict))
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            found.append((block, block["accessory"]))
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            found.append((block, block["element"]))
    return found
