"""What a file is, judged by its content: magic bytes first, then a real decode (Pillow for images,
PyAV for video and audio). Never by its name or the type a client declared. Pure functions: bytes (or
the path of a file, so a large upload is never held in memory) in, facts or a refusal with a reason a
user can act on out. CPU-bound: call them in a thread."""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import av
import av.error
from PIL import Image, ImageOps


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class MediaRefused(Exception):
    """The bytes are not a file of a kind this service keeps; ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True)
class Limits:
    """Caps for one kind: bytes, pixels of one image or frame (checked from the header, before any
    decode: a few KB can claim gigapixels), the longer side, and the duration."""

    max_bytes: int
    max_pixels: int
    max_side: int
    max_seconds: float


MB = 1024 * 1024
LIMITS: dict[MediaKind, Limits] = {
    MediaKind.IMAGE: Limits(max_bytes=50 * MB, max_pixels=50_000_000, max_side=12_000, max_seconds=0),
    MediaKind.VIDEO: Limits(max_bytes=1024 * MB, max_pixels=4096 * 2304, max_side=4096, max_seconds=3600),
    MediaKind.AUDIO: Limits(max_bytes=200 * MB, max_pixels=0, max_side=0, max_seconds=3 * 3600),
}
# What the worker applies to generated outputs: the provider's file was paid for, so only the caps
# that keep a decode bounded apply (the download itself is already capped by CH_MAX_OUTPUT_BYTES).
OUTPUT_LIMITS: dict[MediaKind, Limits] = {
    MediaKind.IMAGE: Limits(max_bytes=2**40, max_pixels=150_000_000, max_side=32_768, max_seconds=0),
    MediaKind.VIDEO: Limits(max_bytes=2**40, max_pixels=8192 * 4608, max_side=8192, max_seconds=24 * 3600),
    MediaKind.AUDIO: Limits(max_bytes=2**40, max_pixels=0, max_side=0, max_seconds=24 * 3600),
}

# What inspect and thumbnail take: the bytes, or the path of a file holding them.
Source = bytes | Path
HEAD_BYTES = 64  # what sniff looks at: a file is refused or typed from these alone
# An MP4/MOV is a list of top-level boxes (ftyp, moov, mdat, free; a fragmented one a moof+mdat pair
# per fragment, a few thousand for an hour). A file of millions of empty boxes keeps a demuxer busy
# for seconds per 100 MB: it is refused once it passes this many.
MAX_TOP_LEVEL_BOXES = 20_000
# Bytes after a container's last box that nothing explains: a little padding is tolerated, more is
# refused (a valid clip followed by anything else is a polyglot, not a video).
MAX_TRAILING_BYTES = 64 * 1024
# Top-level MP4/MOV boxes that hold no media (free, skip and types no reader knows) are padding an
# encoder leaves, a few KB: more than this in all of them together carries something else.
MAX_PADDING_BYTES = 1024 * 1024
_MEDIA_BOXES = frozenset(
    {
        b"ftyp",
        b"moov",
        b"mdat",
        b"moof",
        b"mfra",
        b"styp",
        b"sidx",
        b"ssix",
        b"prft",
        b"emsg",
        b"meta",
        b"pdin",
    }
)
# A JPEG may be followed by other JPEGs (a camera's preview images, MPF): at most this many.
MAX_JPEG_IMAGES = 8

THUMBNAIL_SIDE = 320
THUMBNAIL_TYPE = "image/webp"

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
    "audio/webm": "weba",
    "audio/flac": "flac",
}
ACCEPTED = "PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, AAC, OGG or FLAC"
_PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
_ARTICLE = {MediaKind.IMAGE: "an image", MediaKind.VIDEO: "a video", MediaKind.AUDIO: "an audio file"}
# Recognised only to name them in the refusal.
_OTHER_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML document"),
    (b"<!DOCTYPE", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)


def extension_for(content_type: str) -> str:
    return EXTENSIONS.get(content_type.split(";")[0].strip().lower(), "bin")


def kind_of(content_type: str) -> MediaKind | None:
    """The kind a content type names (``video/mp4`` -> video), or None for any other type."""
    major = content_type.split("/", 1)[0].strip().lower()
    return MediaKind(major) if major in MediaKind._value2member_map_ else None


def sniff(data: bytes) -> tuple[MediaKind, str] | None:
    """Kind and content type from the magic bytes alone; None when no accepted format starts so.
    Containers that hold video or audio (MP4, WebM) answer video: the decode decides."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE, "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.IMAGE, "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaKind.IMAGE, "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE, "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaKind.AUDIO, "audio/wav"
    if head[4:8] == b"ftyp":
        return MediaKind.VIDEO, "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return (MediaKind.VIDEO, "video/webm") if b"webm" in head else None
    if head.startswith(b"OggS"):
        return MediaKind.AUDIO, "audio/ogg"
    if head.startswith(b"fLaC"):
        return MediaKind.AUDIO, "audio/flac"
    if head.startswith(b"ID3"):
        return MediaKind.AUDIO, "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS sync word, layer 0
            return MediaKind.AUDIO, "audio/aac"
        if head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 3:  # MPEG audio frame sync, layer I-III
            return MediaKind.AUDIO, "audio/mpeg"
    return None


def _what_else(data: bytes) -> str:
    head = data[:64].lstrip()
    for signature, name in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return name
    return "not a file of a kind this service accepts"


def _describe(kinds: Collection[MediaKind]) -> str:
    return " or ".join(_ARTICLE[k] for k in MediaKind if k in kinds)


def check_head(
    head: bytes,
    size: int,
    *,
    expect: Collection[MediaKind] | None = None,
    limits: dict[MediaKind, Limits] = LIMITS,
) -> tuple[MediaKind, str]:
    """Kind and content type of a file of ``size`` bytes from its first :data:`HEAD_BYTES` alone:
    :class:`MediaRefused` when it is empty, of no accepted format, not of the ``expect``-ed kind or
    over its kind's size cap. What to run before reading the rest of a file."""
    if not size or not head:
        raise MediaRefused("the file is empty")
    sniffed = sniff(head)
    if sniffed is None:
        what = _what_else(head)
        wanted = _describe(expect) if expect else f"an image, video or audio file ({ACCEPTED})"
        raise MediaRefused(f"the file is {what}; expected {wanted}")
    kind, content_type = sniffed
    if expect and kind not in expect and not (kind == MediaKind.VIDEO and MediaKind.AUDIO in expect):
        raise MediaRefused(f"the file is {_ARTICLE[kind]} ({content_type}); expected {_describe(expect)}")
    cap = limits[kind].max_bytes
    if size > cap:
        raise MediaRefused(f"{_ARTICLE[kind]} may be at most {cap // MB} MB; this one is {size / MB:.1f} MB")
    return kind, content_type


def _head_and_size(source: Source) -> tuple[bytes, int]:
    if isinstance(source, bytes):
        return source[:HEAD_BYTES], len(source)
    with source.open("rb") as f:
        return f.read(HEAD_BYTES), os.fstat(f.fileno()).st_size


def _reader(source: Source) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")


def inspect(
    source: Source,
    *,
    expect: Collection[MediaKind] | None = None,
    limits: dict[MediaKind, Limits] = LIMITS,
) -> MediaInfo:
    """The facts of ``source`` (bytes, or a file's path) as decoded; :class:`MediaRefused` when it is
    not an accepted image, video or audio file, not of the ``expect``-ed kind, over a cap,
    truncated, corrupt or followed by data its container does not explain."""
    head, size = _head_and_size(source)
    kind, content_type = check_head(head, size, expect=expect, limits=limits)
    walk = _STRUCTURE.get(content_type)
    if walk is not None:
        with _reader(source) as f:
            walk(f, size)
    if kind == MediaKind.IMAGE:
        info = _inspect_image(source, content_type, limits[kind])
    else:
        info = _inspect_av(source, content_type, limits)
    if expect and info.kind not in expect:
        raise MediaRefused(
            f"the file is {_ARTICLE[info.kind]} ({info.content_type}); expected {_describe(expect)}"
        )
    return info


def _check_frame(width: int, height: int, limits: Limits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise MediaRefused(f"the {what} has no size")
    if max(width, height) > limits.max_side:
        raise MediaRefused(
            f"the {what} is {width}x{height}; its longer side may be at most {limits.max_side} pixels"
        )
    if width * height > limits.max_pixels:
        raise MediaRefused(
            f"the {what} is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"at most {limits.max_pixels / 1e6:.0f} megapixels are accepted"
        )


def _check_boxes(f: BinaryIO, size: int) -> None:
    """An MP4/MOV's top-level boxes, walked by their headers (a seek each, nothing decoded): they must
    tile the file, at most :data:`MAX_TOP_LEVEL_BOXES` of them, with at most
    :data:`MAX_TRAILING_BYTES` after the last, and at most :data:`MAX_PADDING_BYTES` in boxes that
    hold no media. A box running past the end is a truncated file."""
    position = count = padding = 0
    while position < size:
        count += 1
        if count > MAX_TOP_LEVEL_BOXES:
            raise MediaRefused(
                f"the file is made of more than {MAX_TOP_LEVEL_BOXES} top-level boxes: it is not a "
                "file an encoder writes"
            )
        f.seek(position)
        header = f.read(16)
        box_size = int.from_bytes(header[:4], "big") if len(header) >= 8 else -1
        box_type = header[4:8]
        if box_size == 1:
            box_size = int.from_bytes(header[8:16], "big") if len(header) >= 16 else -1
        elif box_size == 0:  # "to the end of the file"
            box_size = size - position
        if box_size < 8 or not all(48 <= c < 123 or c in (32, 169) for c in box_type):
            if position > 0 and size - position <= MAX_TRAILING_BYTES:
                return  # a little padding after the last box
            raise MediaRefused(
                "the file is followed by data that is not part of its video or audio"
                if position > 0
                else "the file is truncated or corrupt: it does not start with a box"
            )
        if position + box_size > size:
            raise MediaRefused(
                f"the file is truncated: its {box_type.decode('latin-1')!r} box runs "
                f"{position + box_size - size} bytes past the end of the file"
            )
        if box_type not in _MEDIA_BOXES:
            padding += box_size
            if padding > MAX_PADDING_BYTES:
                raise MediaRefused(
                    f"the file holds more than {MAX_PADDING_BYTES // MB} MB of padding "
                    f"({box_type.decode('latin-1')!r} boxes): it carries something that is not its "
                    "video or audio"
                )
        position += box_size


def _check_tail(end: int, size: int, what: str) -> None:
    """The container says it ends at ``end``: a file much longer holds something else too."""
    if size - end > MAX_TRAILING_BYTES:
        raise MediaRefused(f"the file is followed by data that is not part of its {what}")


def _check_png_chunks(f: BinaryIO, size: int) -> None:
    """A PNG's chunks up to IEND (headers only); what follows IEND is not the image."""
    position = 8
    for _ in range(MAX_TOP_LEVEL_BOXES * 10):
        f.seek(position)
        header = f.read(8)
        if len(header) < 8:
            return  # truncated: the decode says so
        position += 12 + int.from_bytes(header[:4], "big")
        if header[4:8] == b"IEND":
            _check_tail(position, size, "image")
            return
    raise MediaRefused("the image is made of too many chunks to be one an encoder writes")


def _vint(f: BinaryIO) -> tuple[int, int] | None:
    """An EBML variable-size integer: (value, all-ones marker), None at the end of the file."""
    first = f.read(1)
    if not first or first[0] == 0:
        return None
    length = 8 - first[0].bit_length() + 1
    rest = f.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = int.from_bytes(bytes([first[0] & (0xFF >> length)]) + rest, "big")
    return value, (1 << (7 * length)) - 1


def _check_ebml(f: BinaryIO, size: int) -> None:
    """A WebM's EBML header and Segment: a Segment of known size ends the file."""
    f.seek(4)  # the EBML header's id
    header = _vint(f)
    if header is None:
        return
    f.seek(f.tell() + header[0])
    if f.read(4) != b"\x18\x53\x80\x67":  # Segment
        return  # the demuxer judges it
    segment = _vint(f)
    if segment is None or segment[0] == segment[1]:  # unknown size (a live recording): nothing to compare
        return
    _check_tail(f.tell() + segment[0], size, "video or audio")


def _check_riff(f: BinaryIO, size: int) -> None:
    """A WAV's or WebP's RIFF size: where the file ends."""
    header = f.read(12)
    riff = int.from_bytes(header[4:8], "little")
    if 0 < riff < 0xFFFFFFFF:  # 0 and all ones: written by a recorder that could not come back
        _check_tail(8 + riff + (riff & 1), size, "image" if header[8:12] == b"WEBP" else "audio")


_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # in entropy-coded data: the next marker


def _next_marker(f: BinaryIO, position: int) -> int | None:
    """Where the marker after a JPEG scan starting at ``position`` is (scans are searched, not
    walked: a stuffed ``FF 00`` or a restart marker does not end one); None at the end of the file."""
    carry = b""
    while True:
        f.seek(position)
        chunk = f.read(1024 * 1024)
        if not chunk:
            return None
        found = _JPEG_MARKER.search(carry + chunk)
        if found:
            return position - len(carry) + found.start()
        carry = chunk[-1:]
        position += len(chunk)


def _check_jpeg(f: BinaryIO, size: int) -> None:
    """A JPEG's segments (headers only, scans searched for their end) up to its EOI; what follows
    must be the camera's preview JPEGs (MPF), at most :data:`MAX_JPEG_IMAGES` in all, or nothing."""
    position = 2  # after SOI
    images = 1
    for _ in range(MAX_TOP_LEVEL_BOXES * 10):
        f.seek(position)
        header = f.read(4)
        if len(header) < 2 or header[0] != 0xFF:
            return  # truncated or corrupt: the decode says so
        marker = header[1]
        if marker == 0xFF:  # a fill byte
            position += 1
        elif marker == 0xD9:  # EOI
            position += 2
            f.seek(position)
            if (
                size - position > MAX_TRAILING_BYTES
                and images < MAX_JPEG_IMAGES
                and f.read(3) == b"\xff\xd8\xff"
            ):
                position, images = position + 2, images + 1
                continue
            _check_tail(position, size, "image")
            return
        elif 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8):
            position += 2
        elif len(header) < 4:
            return
        else:
            position += 2 + int.from_bytes(header[2:4], "big")
            if marker == 0xDA:  # a scan: its data runs to the next marker
                found = _next_marker(f, position)
                if found is None:
                    return
                position = found
    raise MediaRefused("the image is made of too many segments to be one an encoder writes")


def _check_gif(f: BinaryIO, size: int) -> None:
    """A GIF's blocks (their sub-blocks skipped by length) up to its trailer."""

    def color_table(flags: int) -> int:
        return 3 * (2 << (flags & 7)) if flags & 0x80 else 0

    def sub_blocks(at: int) -> int:
        f.seek(at)
        while True:
            length = f.read(1)
            if not length:
                return size
            if length == b"\0":
                return f.tell()
            f.seek(length[0], os.SEEK_CUR)

    f.seek(10)
    screen = f.read(3)
    if len(screen) < 3:
        return
    position = 13 + color_table(screen[0])
    while position < size:
        f.seek(position)
        block = f.read(10)
        if block[:1] == b";":  # the trailer
            _check_tail(position + 1, size, "image")
            return
        if block[:1] == b"!" and len(block) >= 2:  # an extension: its label, then sub-blocks
            position = sub_blocks(position + 2)
        elif block[:1] == b"," and len(block) == 10:  # an image: its descriptor, table, LZW size, data
            position = sub_blocks(position + 10 + color_table(block[9]) + 1)
        else:  # not a block: the end of what the decoder reads
            _check_tail(position, size, "image")
            return


_MPEG_BITRATES = {  # kbit/s by (MPEG-1?, layer) and bitrate index 1-14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_length(header: bytes) -> int:
    """The length of the MPEG audio or ADTS frame with this 6-byte header; 0 when it is not one."""
    if len(header) < 6 or header[0] != 0xFF:
        return 0
    if header[1] & 0xF6 == 0xF0:  # ADTS
        return ((header[3] & 3) << 11) | (header[4] << 3) | (header[5] >> 5)
    if header[1] & 0xE0 != 0xE0:
        return 0
    version, layer = (header[1] >> 3) & 3, 4 - ((header[1] >> 1) & 3)
    bitrate_index, rate_index, pad = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer == 4 or not 0 < bitrate_index < 15 or rate_index == 3:
        return 0
    mpeg1 = version == 3
    bitrate = (
        _MPEG_BITRATES[(mpeg1, 1 if layer == 1 else 2 if not mpeg1 else layer)][bitrate_index - 1] * 1000
    )
    rate = _MPEG_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + pad) * 4
    return (144 if mpeg1 or layer == 2 else 72) * bitrate // rate + pad


def _check_frames(f: BinaryIO, size: int) -> None:
    """An MP3's or AAC's frames (after an ID3v2 tag), each found from the last one's length: what
    follows the last frame must be little (an ID3v1 or APE tag)."""
    head = f.read(10)
    position = 0
    if head[:3] == b"ID3" and len(head) == 10:  # a tag of a syncsafe size (and a footer when flagged)
        position = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        position += 10 if head[5] & 0x10 else 0
    buffer, start = b"", position
    while position < size:
        if position + 6 > start + len(buffer):
            f.seek(position)
            buffer, start = f.read(1024 * 1024), position
        length = _frame_length(buffer[position - start : position - start + 6])
        if length < 7:  # not a frame (a free-format MP3 among them: the decoder judges it)
            break
        position += length
    _check_tail(position, size, "audio")


_STRUCTURE: dict[str, Callable[[BinaryIO, int], None]] = {
    "video/mp4": _check_boxes,
    "video/quicktime": _check_boxes,
    "video/webm": _check_ebml,
    "audio/wav": _check_riff,
    "audio/mpeg": _check_frames,
    "audio/aac": _check_frames,
    "image/png": _check_png_chunks,
    "image/webp": _check_riff,
    "image/jpeg": _check_jpeg,
    "image/gif": _check_gif,
}


def _open_image(source: Source) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow warns above MAX_IMAGE_PIXELS (the caps here decide instead) and refuses above twice it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)  # the header only
        except Image.DecompressionBombError:
            raise MediaRefused("the image claims more pixels than any accepted image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaRefused(f"the image cannot be read: {exc}") from None


def _inspect_image(source: Source, content_type: str, limits: Limits) -> MediaInfo:
    img = _open_image(source)
    with img:
        if img.format != _PILLOW_FORMATS[content_type]:
            raise MediaRefused(f"the file starts like {content_type} but is not one")
        width, height = img.size
        _check_frame(width, height, limits, "image")  # from the header, before a pixel is decoded
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise MediaRefused(f"the image is truncated or corrupt ({exc})") from None
    return MediaInfo(MediaKind.IMAGE, content_type, extension_for(content_type), width, height)


def _seconds(container: av.container.InputContainer) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    longest = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest or None


def _open_av(source: Source) -> av.container.InputContainer:
    return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), mode="r")


def _inspect_av(source: Source, content_type: str, limits: dict[MediaKind, Limits]) -> MediaInfo:
    try:
        container = _open_av(source)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise MediaRefused(
            f"the file cannot be read as {content_type} (truncated or corrupt: {exc})"
        ) from None
    with container:
        videos, audios = container.streams.video, container.streams.audio
        if videos:
            kind = MediaKind.VIDEO
            if content_type == "audio/ogg":
                raise MediaRefused("video in an Ogg file is not accepted; use MP4 or WebM")
        elif audios:
            kind = MediaKind.AUDIO
            content_type = {
                "video/mp4": "audio/mp4",
                "video/quicktime": "audio/mp4",
                "video/webm": "audio/webm",
            }.get(content_type, content_type)
        else:
            raise MediaRefused("the file holds neither video nor audio")
        limit = limits[kind]
        width = height = None
        if kind == MediaKind.VIDEO:
            width, height = videos[0].codec_context.width, videos[0].codec_context.height
            _check_frame(width, height, limit, "video frame")
        duration = _seconds(container)
        if not duration or not math.isfinite(duration):
            raise MediaRefused(f"the {kind} has no duration: it is truncated or not a complete file")
        if duration > limit.max_seconds:
            raise MediaRefused(f"{_ARTICLE[kind]} may last at most {limit.max_seconds / 60:.0f} minutes")
        stream = videos[0] if kind == MediaKind.VIDEO else audios[0]
        _decode_one(container, stream, kind, "start")
        if kind == MediaKind.VIDEO and duration > 0.5:
            # A file cut short keeps its header's duration: the end must decode too.
            try:
                container.seek(int(duration * 0.9 * 1_000_000), any_frame=False, backward=True)
            except av.error.FFmpegError:
                raise MediaRefused("the video is truncated: its end cannot be reached") from None
            _decode_one(container, stream, kind, "end")
    return MediaInfo(kind, content_type, extension_for(content_type), width, height, round(duration, 3))


def _decode_one(
    container: av.container.InputContainer, stream: av.stream.Stream, kind: MediaKind, where: str
) -> None:
    try:
        for _frame in container.decode(stream):
            return
    except (av.error.FFmpegError, ValueError) as exc:
        raise MediaRefused(
            f"the {kind} is truncated or corrupt: no frame decodes at its {where} ({exc})"
        ) from None
    raise MediaRefused(f"the {kind} is truncated or corrupt: no frame decodes at its {where}")


def thumbnail(source: Source, kind: MediaKind, side: int = THUMBNAIL_SIDE) -> bytes | None:
    """A WebP of at most ``side`` pixels a side: the image scaled down, or a video's poster frame
    (its first frame); None for audio or when no frame decodes. Call only on inspected bytes (or an
    inspected file's path)."""
    try:
        if kind == MediaKind.IMAGE:
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
                img.draft("RGB", (side, side))  # JPEG decodes at a fraction of its size
                frame = ImageOps.exif_transpose(img)
                return _webp(frame, side)
        if kind == MediaKind.VIDEO:
            with _open_av(source) as container:
                for video_frame in container.decode(container.streams.video[0]):
                    return _webp(video_frame.to_image(), side)  # type: ignore[no-untyped-call]  # PyAV's stub leaves it untyped
    except (OSError, ValueError, av.error.FFmpegError):
        return None
    return None


def _webp(img: Image.Image, side: int) -> bytes:
    img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()
