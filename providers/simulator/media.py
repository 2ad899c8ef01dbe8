"""Small, real media files for the simulator: images, H.264 video and speech-like audio.

Every generator is cached by its parameters, so a simulator answering the same request twice
encodes once. Videos are meant to be rendered at a reduced size (see :func:`preview_size`); the
simulator still reports the nominal size the provider would have produced.
"""

from __future__ import annotations

import array
import functools
import io
import math
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import av
from PIL import Image, ImageDraw

SAMPLE_RATE = 24_000
PREVIEW_LONG_SIDE = 320
MAX_CACHED = 64


def preview_size(width: int, height: int, long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int]:
    """``width``×``height`` scaled down (never up) so the longer side is ``long_side``, sides even."""
    scale = min(1.0, long_side / max(width, height, 1))
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


@functools.lru_cache(maxsize=8)
def _gradients(width: int, height: int) -> tuple[Image.Image, Image.Image, Image.Image]:
    vertical = Image.linear_gradient("L").resize((width, height))
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    flipped = vertical.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return vertical, horizontal, flipped


def _picture(width: int, height: int, shift: int = 0) -> Image.Image:
    """A colourful, non-uniform RGB picture; ``shift`` moves it so video frames differ."""
    vertical, horizontal, flipped = _gradients(width, height)
    red = vertical.point(lambda v: (v + shift) % 256)
    blue = flipped.point(lambda v: (255 - v + 2 * shift) % 256)
    picture = Image.merge("RGB", (red, horizontal, blue))
    draw = ImageDraw.Draw(picture)
    size = max(4, min(width, height) // 4)
    x = (shift * 4) % max(1, width - size)
    draw.ellipse((x, height // 2 - size // 2, x + size, height // 2 + size // 2), fill=(255, 255, 255))
    return picture


def _image(width: int, height: int, image_format: str) -> bytes:
    buffer = io.BytesIO()
    _picture(width, height).save(buffer, format=image_format)
    return buffer.getvalue()


@functools.lru_cache(maxsize=MAX_CACHED)
def png(width: int, height: int) -> bytes:
    return _image(width, height, "PNG")


@functools.lru_cache(maxsize=MAX_CACHED)
def jpeg(width: int, height: int) -> bytes:
    return _image(width, height, "JPEG")


@functools.lru_cache(maxsize=MAX_CACHED)
def gif(width: int, height: int) -> bytes:
    return _image(width, height, "GIF")


@functools.lru_cache(maxsize=MAX_CACHED)
def webp(width: int, height: int) -> bytes:
    return _image(width, height, "WEBP")


@functools.lru_cache(maxsize=MAX_CACHED)
def mp4(width: int, height: int, seconds: float, fps: int = 12) -> bytes:
    """An H.264 (yuv420p) MP4 of ``seconds`` seconds with moving frames; odd sides are rounded down."""
    width, height = _even(width), _even(height)
    frame_count = max(1, round(seconds * fps))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index in range(frame_count):
            picture = _picture(width, height, shift=index * 6)
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _tone_samples(seconds: float, rate: int = SAMPLE_RATE) -> bytes:
    """Signed 16-bit mono PCM alternating two tones every half second (speech-ish, not silence)."""
    total = max(1, round(seconds * rate))
    half = rate // 2
    # Half a second of 400 Hz and of 600 Hz are whole cycles, so one second repeats seamlessly.
    one_second = array.array(
        "h",
        [int(6000 * math.sin(2 * math.pi * 400 * i / rate)) for i in range(half)]
        + [int(6000 * math.sin(2 * math.pi * 600 * i / rate)) for i in range(rate - half)],
    ).tobytes()
    return (one_second * (total // rate + 1))[: total * 2]


def pcm_frames(pcm: bytes, rate: int = SAMPLE_RATE) -> Iterator[av.AudioFrame]:
    samples = len(pcm) // 2
    for start in range(0, samples, rate):
        count = min(rate, samples - start)
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(pcm[start * 2 : (start + count) * 2])
        frame.sample_rate = rate
        frame.pts = start
        yield frame


def _encode_audio(
    seconds: float,
    container_format: str,
    codec: str,
    rate: int = SAMPLE_RATE,
    options: dict[str, object] | None = None,
    *,
    source_rate: int = SAMPLE_RATE,
    bit_rate: int | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        stream.options = options or {}
        if bit_rate:
            stream.bit_rate = bit_rate
        for frame in pcm_frames(_tone_samples(seconds, source_rate), source_rate):
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


@functools.lru_cache(maxsize=MAX_CACHED)
def audio_at(kind: str, seconds: float, rate: int, kbps: int = 0) -> bytes:
    """Speech-like audio in a format named like ElevenLabs' ``output_format`` parts:
    ``kind`` mp3 | opus | pcm (raw s16le) | wav | ulaw | alaw (raw G.711), at ``rate`` Hz."""
    if kind == "pcm":
        return _tone_samples(seconds, rate)
    if kind == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(_tone_samples(seconds, rate))
        return buffer.getvalue()
    bit_rate = kbps * 1000 or None
    if kind == "mp3":
        options: dict[str, object] = {"compression_level": "9"}
        return _encode_audio(seconds, "mp3", "libmp3lame", rate, options, source_rate=rate, bit_rate=bit_rate)
    if kind == "opus":
        return _encode_audio(seconds, "ogg", "libopus", rate, source_rate=rate, bit_rate=bit_rate)
    if kind in ("ulaw", "alaw"):
        codec = "pcm_mulaw" if kind == "ulaw" else "pcm_alaw"
        return _encode_audio(seconds, "mulaw" if kind == "ulaw" else "alaw", codec, rate, source_rate=rate)
    raise ValueError(f"unknown audio kind {kind}")


@functools.lru_cache(maxsize=MAX_CACHED)
def mp3(seconds: float) -> bytes:
    # The fastest LAME setting: long inputs (4,096 characters ≈ 4.5 minutes) stay quick to make.
    return _encode_audio(seconds, "mp3", "libmp3lame", options={"compression_level": "9"})


@functools.lru_cache(maxsize=MAX_CACHED)
def aac(seconds: float) -> bytes:
    return _encode_audio(seconds, "adts", "aac")


@functools.lru_cache(maxsize=MAX_CACHED)
def opus(seconds: float) -> bytes:
    return _encode_audio(seconds, "ogg", "libopus", rate=48_000)


@functools.lru_cache(maxsize=MAX_CACHED)
def flac(seconds: float) -> bytes:
    return _encode_audio(seconds, "flac", "flac")


@functools.lru_cache(maxsize=MAX_CACHED)
def pcm(seconds: float) -> bytes:
    """Raw 24 kHz signed 16-bit little-endian mono, as OpenAI's ``pcm`` format."""
    return _tone_samples(seconds)


@functools.lru_cache(maxsize=MAX_CACHED)
def wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(_tone_samples(seconds))
    return buffer.getvalue()


@dataclass(frozen=True)
class MediaSpec:
    """A file the simulator promised: its format and nominal size; bytes are made on first download."""

    kind: str  # "jpeg", "png", "gif", "webp", "mp4", "mp3", "wav", "aac", "opus", "flac", "pcm"
    width: int = 0
    height: int = 0
    seconds: float = 0.0

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]

    @property
    def extension(self) -> str:
        return "jpg" if self.kind == "jpeg" else self.kind

    def render(self) -> bytes:
        """The file's bytes (images at full size, videos at preview size)."""
        if self.kind == "jpeg":
            return jpeg(self.width, self.height)
        if self.kind == "png":
            return png(self.width, self.height)
        if self.kind == "gif":
            return gif(*preview_size(self.width, self.height))
        if self.kind == "webp":
            return webp(self.width, self.height)
        if self.kind == "mp4":
            return mp4(*preview_size(self.width, self.height), self.seconds)
        return AUDIO[self.kind](self.seconds)


AUDIO = {"mp3": mp3, "wav": wav, "aac": aac, "opus": opus, "flac": flac, "pcm": pcm}
CONTENT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "aac": "audio/aac",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
}
