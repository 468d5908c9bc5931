"""Files sent with a reply: what is accepted, decided from the bytes, never from the name or the
type the browser claims. Accepted: photos (JPEG, PNG), PDF, and Word/Excel files (OOXML).
Whatever is accepted is served only as a download (`Content-Disposition: attachment`, nosniff),
so a file that is really HTML or script never runs in the hotline's origin."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from io import BytesIO
from typing import Sequence

from hotline.errors import InvalidInput

MAX_FILES = 5
MAX_BYTES = 5 * 1024 * 1024
MAX_NAME = 120

# (content type, extension) by leading bytes; OOXML is a ZIP told apart by its parts.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)
_OOXML = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the sender gave and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Accepted:
    name: str  # cleaned, with the extension of its real type
    content_type: str
    data: bytes
    sha256: str


def _kind(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in _MAGIC:
        if data.startswith(magic):
            return content_type, extension
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError):
            return None
        for prefix, kind in _OOXML.items():
            if "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names):
                return kind
    return None


def clean_name(raw: str, extension: str) -> str:
    """The file's own name without folders, control characters or a misleading extension."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"<>|:*?]", "", name).strip(" .") or "附件"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem[: MAX_NAME - len(extension)] + extension


def accept(uploads: Sequence[Upload]) -> list[Accepted]:
    """The uploads as stored, or InvalidInput naming the first one refused."""
    files = [u for u in uploads if u.data or u.name]
    if len(files) > MAX_FILES:
        raise InvalidInput(
            f"at most {MAX_FILES} files", field="files", zh=f"每次最多上传 {MAX_FILES} 个附件"
        )
    accepted = []
    for upload in files:
        shown = upload.name[:40] or "附件"
        if not upload.data:
            raise InvalidInput(f"{shown} is empty", field="files", zh=f"附件“{shown}”是空文件")
        if len(upload.data) > MAX_BYTES:
            raise InvalidInput(
                f"{shown} is larger than {MAX_BYTES // 1048576} MB",
                field="files",
                zh=f"附件“{shown}”超过 {MAX_BYTES // 1048576} MB",
            )
        kind = _kind(upload.data)
        if kind is None:
            raise InvalidInput(
                f"{shown}: only JPEG, PNG, PDF, Word and Excel files",
                field="files",
                zh=f"附件“{shown}”的格式不受支持（仅限 JPG、PNG、PDF、Word、Excel）",
            )
        content_type, extension = kind
        accepted.append(
            Accepted(
                clean_name(upload.name, extension),
                content_type,
                upload.data,
                hashlib.sha256(upload.data).hexdigest(),
            )
        )
    return accepted
