"""Channel-neutral messages (Incoming, Reply, Button) and the delivery errors every adapter maps onto."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class IncomingKind(StrEnum):
    """What a resident sent."""

    TEXT = "text"
    COMMAND = "command"
    CALLBACK = "callback"
    LOCATION = "location"
    PHOTO = "photo"
    DOCUMENT = "document"
    EDITED = "edited"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update, reduced to what the conversations need."""

    update_id: int
    chat_id: int
    user_id: int
    kind: IncomingKind
    chat_type: str = "private"
    first_name: str = ""
    language_code: str | None = None
    text: str = ""
    command: str | None = None
    args: str = ""
    callback_id: str | None = None
    callback_data: str | None = None
    message_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    photo_file_id: str | None = None
    # A file the person sent (Telegram's file id) and its name.
    document_file_id: str | None = None
    document_name: str | None = None

    @property
    def is_private(self) -> bool:
        """Whether the update comes from a one-to-one chat with the bot."""
        return self.chat_type == "private"


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button carrying callback data (ids only, at most 64 bytes)."""

    label: str
    data: str


@dataclass(slots=True)
class Reply:
    """Something to show a chat: a text (new or edited), a document, a photo, a map pin, or a callback answer."""

    text: str = ""
    buttons: list[list[Button]] = field(default_factory=list)
    edit: bool = False
    document: bytes | None = None
    filename: str | None = None
    toast: str | None = None
    # An outbox edit of a message sent earlier (its Telegram id), rather than a new message; if that message
    # cannot be edited any more, `or_send` says to send the text anew instead of giving up.
    edit_message_id: int | None = None
    or_send: bool = False
    # A photo (Telegram's file id, e.g. one a resident sent) with `text` as its caption; or a map pin.
    photo: str | None = None
    location: tuple[float, float] | None = None
    # A stored image (the key of a `media` row, e.g. a poll's result chart) sent as a photo with `text` as its
    # caption and the buttons: the outbox sender uploads its bytes once and then sends it by Telegram's file id.
    photo_media: str | None = None
    # The text holds a secret for this chat alone (a ballot receipt): if it has to wait in the outbox, its
    # payload is forgotten once it is sent.
    secret: bool = False
    # A photo's bytes to upload (named `filename`), with `text` as its caption. The sender sets it for the
    # first send of a `photo_media`; a message to many should name a stored image instead of carrying bytes.
    photo_upload: bytes | None = None
    # A document Telegram already has (its file id, e.g. one an author attached to a notice), `text` its caption.
    document_id: str | None = None
    # What the outbox sender may machine-translate for this reader (bot/outbox.py): the original `q` in
    # `source`, the `original` HTML in `text` that shows it, the `mark` and `button` label for the translation.
    machine: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form, for the outbox and the reply journal."""
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [[[b.label, b.data] for b in row] for row in self.buttons]
        if self.edit:
            data["edit"] = True
        if self.document is not None:
            data["document"] = base64.b64encode(self.document).decode("ascii")
            data["filename"] = self.filename
        if self.toast is not None:
            data["toast"] = self.toast
        if self.edit_message_id is not None:
            data["edit_message_id"] = self.edit_message_id
        if self.or_send:
            data["or_send"] = True
        if self.photo is not None:
            data["photo"] = self.photo
        if self.location is not None:
            data["location"] = list(self.location)
        if self.photo_media is not None:
            data["photo_media"] = self.photo_media
        if self.photo_upload is not None:
            data["photo_upload"] = base64.b64encode(self.photo_upload).decode("ascii")
            data["filename"] = self.filename
        if self.document_id is not None:
            data["document_id"] = self.document_id
        if self.machine is not None:
            data["machine"] = dict(self.machine)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """Rebuild a reply stored with `to_dict`."""
        return cls(
            text=data.get("text", ""),
            buttons=[[Button(label, value) for label, value in row] for row in data.get("buttons", [])],
            edit=bool(data.get("edit", False)),
            document=base64.b64decode(data["document"]) if "document" in data else None,
            filename=data.get("filename"),
            toast=data.get("toast"),
            edit_message_id=data.get("edit_message_id"),
            or_send=bool(data.get("or_send", False)),
            photo=data.get("photo"),
            location=(float(data["location"][0]), float(data["location"][1])) if data.get("location") else None,
            photo_media=data.get("photo_media"),
            photo_upload=base64.b64decode(data["photo_upload"]) if "photo_upload" in data else None,
            document_id=data.get("document_id"),
            machine=data.get("machine"),
        )


class DeliveryError(Exception):
    """A message could not be delivered; subclasses say what to do next."""


class RetryLater(DeliveryError):
    """The platform asked to slow down (HTTP 429): pause everything for `retry_after` seconds."""

    def __init__(self, retry_after: float, description: str = "") -> None:
        super().__init__(description or f"retry after {retry_after}")
        self.retry_after = retry_after


class Unreachable(DeliveryError):
    """The user blocked the bot or deleted their account (HTTP 403): never retry."""


class Rejected(DeliveryError):
    """The platform refused this message as malformed or stale (HTTP 400): retrying will not help."""


class TransientFailure(DeliveryError):
    """A server or network failure (5xx, timeout): retry with backoff."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """What Telegram said about a reply it accepted."""

    # The Telegram id of the (last) message shown, or of the message edited.
    message_id: int | None
    # The file id Telegram gave an uploaded photo (`Reply.photo_upload`), to send the same photo by it later.
    file_id: str | None = None


class Deliverer(Protocol):
    """What the outbox sender needs from a channel."""

    async def deliver(self, chat_id: int, reply: Reply) -> Delivered:
        """Send one reply to a chat (or edit the message `reply.edit_message_id`), returning the Telegram id
        of the (last) message shown and an uploaded photo's file id; raises a DeliveryError subclass on
        failure."""
        ...
