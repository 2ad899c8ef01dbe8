"""models.media in-process: files are judged by their content (real PNG/JPEG/WebP/GIF, MP4, MP3, WAV,
FLAC, Ogg, AAC made by tests/standins/media.py), and bad ones are refused with a reason."""

from __future__ import annotations

import io
import struct
import time
import zlib
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from models import media
from models.media import Limits, MediaKind, MediaRefused
from tests.standins import media as make


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` and whose data is a few KB of zeros: the
    shape of a decompression bomb, without the gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100_000))
        + chunk(b"IEND", b"")
    )


def faststart_mp4(path: Path, seconds: float, fps: int = 8) -> bytes:
    """An MP4 with its index (moov) first, as streaming services write them: cut short, the header
    still promises the full duration."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_image(Image.effect_noise((64, 48), 60 + i).convert("RGB"))
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("data", "content_type", "size"),
    [
        (make.image("png", 300, 200), "image/png", (300, 200)),
        (make.image("jpeg", 640, 360), "image/jpeg", (640, 360)),
        (make.image("webp", 90, 160), "image/webp", (90, 160)),
        (make.gif(64, 64), "image/gif", (64, 64)),
    ],
)
def test_images_are_recognised_by_decoding(data: bytes, content_type: str, size: tuple[int, int]) -> None:
    info = media.inspect(data)
    assert (info.kind, info.content_type, (info.width, info.height)) == (MediaKind.IMAGE, content_type, size)
    assert info.duration_seconds is None


def test_a_video_has_its_frame_size_and_duration() -> None:
    info = media.inspect(make.mp4(320, 180, 2.0, audio=True))
    assert (info.kind, info.content_type, info.extension) == (MediaKind.VIDEO, "video/mp4", "mp4")
    assert (info.width, info.height) == (256, 144)
    assert info.duration_seconds is not None and 1.9 <= info.duration_seconds <= 2.2


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("mp3", "audio/mpeg"),
        ("wav", "audio/wav"),
        ("flac", "audio/flac"),
        ("opus", "audio/ogg"),
        ("aac", "audio/aac"),
    ],
)
def test_audio_is_recognised_with_its_duration(fmt: str, content_type: str) -> None:
    info = media.inspect(make.audio(fmt, 1.5))
    assert (info.kind, info.content_type, info.width) == (MediaKind.AUDIO, content_type, None)
    assert info.duration_seconds is not None and 1.3 <= info.duration_seconds <= 1.7


def test_a_pdf_named_like_an_image_is_refused_as_a_start_image() -> None:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    with pytest.raises(MediaRefused) as refused:
        media.inspect(pdf, expect={MediaKind.IMAGE})
    assert refused.value.reason == "the file is a PDF document; expected an image"


def test_a_video_is_the_wrong_kind_for_an_image_slot_and_an_image_for_an_audio_slot() -> None:
    with pytest.raises(MediaRefused, match=r"is a video \(video/mp4\); expected an image"):
        media.inspect(make.mp4(64, 64, 1.0), expect={MediaKind.IMAGE})
    with pytest.raises(MediaRefused, match=r"is an image \(image/png\); expected an audio file"):
        media.inspect(make.image("png", 8, 8), expect={MediaKind.AUDIO})


def test_an_mp4_holding_only_sound_is_audio() -> None:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=22050)
        stream.layout = "mono"
        make._encode_tone(container, stream, 1.0, 22050)
    info = media.inspect(out.getvalue(), expect={MediaKind.AUDIO})
    assert (info.kind, info.content_type, info.extension) == (MediaKind.AUDIO, "audio/mp4", "m4a")


def test_a_truncated_video_is_refused(tmp_path: Path) -> None:
    whole = make.mp4(128, 72, 3.0)
    with pytest.raises(MediaRefused, match="truncated"):
        media.inspect(whole[: len(whole) // 2])  # its index (at the end) is gone
    indexed_first = faststart_mp4(tmp_path / "indexed.mp4", 4.0)
    assert media.inspect(indexed_first).duration_seconds == pytest.approx(4.0, abs=0.2)
    with pytest.raises(MediaRefused, match="truncated"):
        media.inspect(indexed_first[: len(indexed_first) // 3])  # the index promises frames that are gone


def test_an_image_claiming_a_gigapixel_is_refused_from_its_header_before_decoding() -> None:
    bomb = png_header_only(40_000, 40_000)
    assert len(bomb) < 10_000
    started = time.perf_counter()
    with pytest.raises(MediaRefused, match="more pixels than any accepted image"):  # Pillow's own guard
        media.inspect(bomb, limits=media.OUTPUT_LIMITS)
    with pytest.raises(MediaRefused, match=r"11000x10000 \(110 megapixels\); at most 50 megapixels"):
        media.inspect(png_header_only(11_000, 10_000))
    with pytest.raises(MediaRefused, match=r"13000x100; its longer side may be at most 12000"):
        media.inspect(png_header_only(13_000, 100))
    assert time.perf_counter() - started < 0.5, "refused from the header, not after decoding gigabytes"


def test_caps_apply_per_kind() -> None:
    small = {
        MediaKind.IMAGE: Limits(max_bytes=10_000_000, max_pixels=10_000, max_side=200, max_seconds=0),
        MediaKind.VIDEO: Limits(max_bytes=10_000_000, max_pixels=10_000, max_side=100, max_seconds=1.0),
        MediaKind.AUDIO: Limits(max_bytes=1_000, max_pixels=0, max_side=0, max_seconds=60),
    }
    with pytest.raises(MediaRefused, match="longer side may be at most 200"):
        media.inspect(make.image("png", 300, 20), limits=small)
    with pytest.raises(MediaRefused, match="at most 0 megapixels"):
        media.inspect(make.image("png", 150, 150), limits=small)
    with pytest.raises(MediaRefused, match=r"128x72"):
        media.inspect(make.mp4(128, 72, 0.5), limits=small)
    with pytest.raises(MediaRefused, match="may be at most 0 MB"):
        media.inspect(make.audio("wav", 1.0), limits=small)
    with pytest.raises(MediaRefused, match="may last at most"):
        media.inspect(make.mp4(64, 36, 2.0), limits=small)


def test_corrupt_and_unknown_bytes_are_refused() -> None:
    png = make.image("png", 200, 200)
    with pytest.raises(MediaRefused, match="truncated or corrupt"):
        media.inspect(png[: len(png) // 2])
    with pytest.raises(MediaRefused, match="empty"):
        media.inspect(b"")
    with pytest.raises(MediaRefused, match="not a file of a kind this service accepts"):
        media.inspect(b"hello, world" * 10)
    with pytest.raises(MediaRefused, match="an HTML page"):
        media.inspect(b"<html><script>alert(1)</script></html>")


def test_thumbnails_are_small_webp_images_and_posters_are_video_frames() -> None:
    thumb = media.thumbnail(make.image("jpeg", 1600, 900), MediaKind.IMAGE)
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as img:
        assert (img.format, img.size) == ("WEBP", (320, 180))
    poster = media.thumbnail(make.mp4(640, 360, 1.0), MediaKind.VIDEO)
    assert poster is not None
    with Image.open(io.BytesIO(poster)) as img:
        assert img.format == "WEBP" and max(img.size) <= 320 and img.size[0] > img.size[1]
    assert media.thumbnail(make.audio("mp3", 1.0), MediaKind.AUDIO) is None


def test_a_file_of_countless_empty_boxes_is_refused_fast(tmp_path: Path) -> None:
    """``ftyp`` and then millions of 8-byte boxes (100 MB): a demuxer walks them for seconds; the
    box count is refused after reading a few thousand headers."""
    path = tmp_path / "boxes.mp4"
    ftyp = struct.pack(">I", 24) + b"ftypisom" + b"\0\0\x02\0isomiso2"
    with path.open("wb") as out:
        out.write(ftyp)
        out.write((struct.pack(">I", 8) + b"free") * (100 * 1024 * 1024 // 8))
    started = time.process_time()
    with pytest.raises(MediaRefused, match="more than 20000 top-level boxes"):
        media.inspect(path)
    assert time.process_time() - started < 1.0


def test_a_valid_clip_followed_by_other_data_is_refused(tmp_path: Path) -> None:
    """A polyglot: a real 1-second MP4 with megabytes of something else after its last box."""
    clip = make.mp4(64, 48, 1.0)
    assert media.inspect(clip).duration_seconds == pytest.approx(1.0, abs=0.2)
    assert media.inspect(clip + b"\0" * 1024).kind == MediaKind.VIDEO  # a little padding is tolerated
    path = tmp_path / "polyglot.mp4"
    path.write_bytes(clip + bytes(range(256)) * 8 * 1024)  # 2 MB that is no box
    with pytest.raises(MediaRefused, match="followed by data that is not part of"):
        media.inspect(path)
    with pytest.raises(MediaRefused, match="followed by data that is not part of"):
        media.inspect(clip + PK_ZIP * 10_000)


PK_ZIP = b"PK\x03\x04" + b"\x14\x00" * 30


def test_a_file_is_inspected_from_its_path_as_from_its_bytes(tmp_path: Path) -> None:
    for data in (make.image("png", 64, 32), make.mp4(64, 48, 1.0), make.audio("wav", 1.0)):
        path = tmp_path / "file"
        path.write_bytes(data)
        assert media.inspect(path) == media.inspect(data)
        assert (media.thumbnail(path, media.inspect(path).kind) is None) == (
            media.thumbnail(data, media.inspect(data).kind) is None
        )


@pytest.mark.parametrize("kind", ["png", "webm", "wav"])
def test_other_containers_followed_by_other_data_are_refused(kind: str) -> None:
    """A PNG past its IEND, a WebM past its Segment, a WAV past its RIFF size: a polyglot."""
    data = make.image("png", 64, 32) if kind == "png" else make.audio("wav", 1.0) if kind == "wav" else webm()
    media.inspect(data)
    media.inspect(data + b"\0" * 100)  # a little padding is tolerated
    with pytest.raises(MediaRefused, match="followed by data that is not part of"):
        media.inspect(data + PK_ZIP * 10_000)


def webm() -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(8):
            frame = av.VideoFrame.from_image(Image.effect_noise((64, 48), 60 + i).convert("RGB"))
            frame.pts, frame.time_base = i, Fraction(1, 8)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def gif(frames: int = 3) -> bytes:
    out = io.BytesIO()
    images = [Image.effect_noise((64, 32), 40 + i).convert("P") for i in range(frames)]
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def progressive_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((640, 480), 80).convert("RGB").save(out, "JPEG", progressive=True, quality=90)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["jpeg", "progressive-jpeg", "webp", "gif", "mp3", "aac"])
def test_images_and_sounds_followed_by_other_data_are_refused(kind: str) -> None:
    """A JPEG past its EOI, a WebP past its RIFF size, a GIF past its trailer, MP3 or AAC past their
    last frame: a polyglot, not a picture or a sound."""
    data = {
        "jpeg": lambda: make.image("jpeg", 64, 32),
        "progressive-jpeg": progressive_jpeg,
        "webp": lambda: make.image("webp", 64, 32),
        "gif": gif,
        "mp3": lambda: make.audio("mp3", 1.0),
        "aac": lambda: make.audio("aac", 1.0),
    }[kind]()
    media.inspect(data)
    media.inspect(data + b"\0" * 100)  # a little padding is tolerated
    for tail in (PK_ZIP * 10_000, bytes(range(256)) * 20_000):
        with pytest.raises(MediaRefused, match="followed by data that is not part of"):
            media.inspect(data + tail)


def test_a_jpeg_with_its_camera_preview_images_after_it_is_accepted() -> None:
    """Cameras append preview images after the main one (MPF): JPEGs after a JPEG are still one photo."""
    photo = make.image("jpeg", 64, 32)
    preview = progressive_jpeg()
    assert len(preview) > media.MAX_TRAILING_BYTES
    info = media.inspect(photo + preview * 3)
    assert (info.content_type, info.width, info.height) == ("image/jpeg", 64, 32)
    with pytest.raises(MediaRefused, match="followed by data that is not part of"):
        media.inspect(photo + preview + PK_ZIP * 10_000)
    with pytest.raises(MediaRefused, match="followed by data that is not part of"):  # JPEGs no end
        media.inspect(photo + preview * media.MAX_JPEG_IMAGES)


def test_a_clip_with_megabytes_hidden_in_free_boxes_is_refused() -> None:
    """free/skip boxes are padding an encoder leaves (a few KB): megabytes of them carry something
    else. Encoders' own padding is accepted."""
    clip = make.mp4(64, 48, 1.0)
    assert media.inspect(clip + struct.pack(">I", 8 + 4096) + b"free" + b"\0" * 4096).kind == MediaKind.VIDEO
    payload = bytes(range(256)) * 40 * 1024  # 10 MB
    for box in (b"free", b"skip", b"junk"):
        with pytest.raises(MediaRefused, match="padding"):
            media.inspect(clip + struct.pack(">I", 8 + len(payload)) + box + payload)
    with pytest.raises(MediaRefused, match="padding"):  # split over many boxes, it adds up
        media.inspect(clip + (struct.pack(">I", 8 + 512 * 1024) + b"free" + b"\0" * 512 * 1024) * 20)
