"""File ids, uploads and downloads of the fake Bot API: getFile and /file/bot{token}/{path}."""

from __future__ import annotations

import mimetypes
from typing import Any

from aiohttp import web

from bot.fakeapi.state import (
    ApiError,
    BotState,
    StoredFile,
    Upload,
    _bad,
    _fake,
    _json_response,
    image_size,
)


class FilesMixin:
    """Stores files and answers getFile."""

    def _new_file(
        self,
        bot: BotState,
        kind: str,
        data: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        bot.file_counter += 1
        n = bot.file_counter
        prefix = {"photo": "AgACAgQ", "document": "BQACAgQ"}.get(kind, "CAACAgQ")
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        elif mime_type:
            ext = mimetypes.guess_extension(mime_type) or ""
        elif kind == "photo":
            ext = ".jpg"
        stored = StoredFile(
            file_id=f"{prefix}{bot.bot_id}x{n:06d}",
            file_unique_id=f"AQAD{bot.bot_id}u{n:06d}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"{kind}s/file_{n}{ext}",
        )
        if kind == "photo":
            size = image_size(data) if data else None
            stored.width, stored.height = size if size and size[0] > 0 and size[1] > 0 else (800, 600)
        bot.files[stored.file_id] = stored
        bot.files_by_path[stored.file_path] = stored
        return stored

    def _input_file(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload], key: str) -> StoredFile:
        value = params.get(key)
        upload = uploads.get(key)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f"there is no {key} in the request")
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime or "application/octet-stream"
            return self._new_file(bot, key, upload.data, file_name=upload.filename, mime_type=mime)
        if not isinstance(value, str) or not value:
            raise _bad(f"there is no {key} in the request")
        if value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1].split("?", 1)[0] or None
            return self._new_file(bot, key, None, file_name=name, mime_type=mimetypes.guess_type(name or "")[0])
        stored = bot.files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != key:
            raise _bad("type of file mismatch")
        return stored

    @staticmethod
    def _photo_sizes(stored: StoredFile) -> list[dict[str, Any]]:
        size: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": stored.width,
            "height": stored.height,
        }
        if stored.size is not None:
            size["file_size"] = stored.size
        return [size]

    @staticmethod
    def _document(stored: StoredFile) -> dict[str, Any]:
        doc: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        if stored.size is not None:
            doc["file_size"] = stored.size
        return doc

    def _get_file(self, bot: BotState, params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        stored = bot.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.size is not None:
            result["file_size"] = stored.size
        return result


async def _handle_file(request: web.Request) -> web.StreamResponse:
    fake = _fake(request)
    try:
        bot = fake.get_bot(request.match_info["token"])
    except ApiError as exc:
        return _json_response(exc.payload(), exc.status)
    stored = bot.files_by_path.get(request.match_info["path"])
    if stored is None or stored.data is None:
        return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
    return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")
