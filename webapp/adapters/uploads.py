"""Uploaded files on disk: stored under random names in one directory outside the web root, typed by content.

A user-supplied name is only ever a label: it never reaches the file system. The type is read from the bytes
(signatures for PDF, PNG and JPEG, the OOXML parts of a DOCX, strict UTF-8 for plain text) and must agree with
the name's extension, so a PNG renamed .pdf, or a script renamed .txt with binary inside, is refused in words.
"""
from __future__ import annotations

import codecs
import os
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class FileKind:
    """One accepted kind of file: its MIME type, a word for people, and the extensions that name it."""

    content_type: str
    label: str
    extensions: tuple[str, ...]

    @property
    def extension(self) -> str:
        return self.extensions[0]


KINDS = (
    FileKind("application/pdf", "PDF", (".pdf",)),
    FileKind("image/png", "PNG image", (".png",)),
    FileKind("image/jpeg", "JPEG image", (".jpg", ".jpeg")),
    FileKind("text/plain", "plain text", (".txt",)),
    FileKind(DOCX, "Word document (DOCX)", (".docx",)),
)
_BY_EXTENSION = {ext: kind for kind in KINDS for ext in kind.extensions}
_BY_TYPE = {kind.content_type: kind for kind in KINDS}
ACCEPT = ",".join(ext for kind in KINDS for ext in kind.extensions)  # for <input type=file accept=...>
ALLOWED_WORDS = ", ".join(kind.label for kind in KINDS)
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z]{3,4}$")
_CHUNK = 64 * 1024
_HEAD = 8 * 1024


class UploadRejected(ValueError):
    """The file cannot be accepted; the message says why, in words for the person who sent it."""


@dataclass(frozen=True)
class StoredFile:
    """A file now on disk: the random name it is stored under, and what we know about it."""

    stored_name: str
    original_name: str
    content_type: str
    size_bytes: int


def display_name(filename: str | None) -> str:
    """The last path component of a client's file name, without control characters, at most 255 characters.

    `../../etc/passwd` becomes `passwd` and `C:\\Users\\me\\notes.txt` becomes `notes.txt`; it is only a label."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 255 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:255]
    return name or "attachment"


def kind_for_name(name: str) -> FileKind | None:
    """The accepted kind a file name's extension claims, if any."""
    return _BY_EXTENSION.get(PurePosixPath(name.lower()).suffix)


def store(stream: BinaryIO, filename: str | None, upload_dir: str | os.PathLike, max_bytes: int) -> StoredFile:
    """Copy an upload into `upload_dir` under a fresh random name, if it is small enough and its content is one of
    the accepted kinds matching its extension; otherwise raise UploadRejected and leave nothing behind."""
    original = display_name(filename)
    claimed = kind_for_name(original)
    if claimed is None:
        raise UploadRejected(f"{original}: we accept only {ALLOWED_WORDS} files "
                             f"(names ending {', '.join(_BY_EXTENSION)}).")
    directory = Path(upload_dir)
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    partial = directory / f".{token}.part"
    try:
        size, head = _copy_limited(stream, partial, max_bytes, original)
        if size == 0:
            raise UploadRejected(f"{original} is empty.")
        actual = _sniff(head, partial)
        if actual is None:
            raise UploadRejected(f"{original} does not look like a {claimed.label} inside; we accept only "
                                 f"{ALLOWED_WORDS} files.")
        if actual is not claimed:
            raise UploadRejected(f"{original} is named as a {claimed.label} but its content is a {actual.label}. "
                                 f"Rename it to end in {actual.extension} or choose another file.")
        stored_name = f"{token}{claimed.extension}"
        os.replace(partial, directory / stored_name)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return StoredFile(stored_name, original, claimed.content_type, size)


def path_for(upload_dir: str | os.PathLike, stored_name: str) -> Path | None:
    """Where a stored file is, or None if the name is not one we made or the file is gone."""
    if not _STORED_NAME.match(stored_name or ""):
        return None
    path = Path(upload_dir) / stored_name
    return path if path.is_file() else None


def delete(upload_dir: str | os.PathLike, stored_name: str) -> None:
    """Remove a stored file (nothing happens if it is already gone or the name is not ours)."""
    if _STORED_NAME.match(stored_name or ""):
        (Path(upload_dir) / stored_name).unlink(missing_ok=True)


def stored_files(upload_dir: str | os.PathLike, older_than_epoch: float) -> list[str]:
    """Names of files we stored (by their random-name shape) last modified before `older_than_epoch`."""
    directory = Path(upload_dir)
    if not directory.is_dir():
        return []
    return sorted(entry.name for entry in directory.iterdir()
                  if _STORED_NAME.match(entry.name) and entry.is_file() and entry.stat().st_mtime < older_than_epoch)


def _copy_limited(stream: BinaryIO, target: Path, max_bytes: int, label: str) -> tuple[int, bytes]:
    """Copy in chunks, stopping as soon as the size passes the limit (a huge upload never fills the disk)."""
    size, head = 0, b""
    with open(target, "xb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadRejected(f"{label} is larger than the {_megabytes(max_bytes)} limit per file.")
            if len(head) < _HEAD:
                head += chunk[: _HEAD - len(head)]
            out.write(chunk)
    return size, head


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def _sniff(head: bytes, path: Path) -> FileKind | None:
    """The accepted kind the content is, judged from the bytes alone."""
    if head.startswith(b"%PDF-"):
        return _BY_TYPE["application/pdf"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _BY_TYPE["image/png"]
    if head.startswith(b"\xff\xd8\xff"):
        return _BY_TYPE["image/jpeg"]
    if head.startswith(b"PK\x03\x04"):
        return _BY_TYPE[DOCX] if _is_docx(path) else None
    if _is_plain_text(path):
        return _BY_TYPE["text/plain"]
    return None


def _is_docx(path: Path) -> bool:
    """A ZIP with the parts every Word document has (names only: nothing is decompressed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


# C0 and C1 control characters other than tab, line feed, form feed and carriage return.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _is_plain_text(path: Path) -> bool:
    """Strict UTF-8 (a BOM allowed) with no control characters but tabs, line and page breaks."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    try:
        with open(path, "rb") as source:
            while chunk := source.read(_CHUNK):
                if _has_controls(decoder.decode(chunk)):
                    return False
            return not _has_controls(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False


def _has_controls(text: str) -> bool:
    return _CONTROLS.search(text) is not None
