"""Small, real media files for the stand-ins: decodable PNG/JPEG/WebP, H.264 MP4 (optionally with an
AAC track), MP3/WAV/FLAC/Opus/AAC audio. Written here (not borrowed from the simulator) so the
stand-ins share no code with what they test."""

from __future__ import annotations

import io
import math
import struct
import wave
from fractions import Fraction

import av
from PIL import Image

IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


def image(fmt: str, width: int, height: int) -> bytes:
    """A ``width``×``height`` gradient in ``fmt`` (png, jpeg/jpg, webp)."""
    red = Image.linear_gradient("L").rotate(90).resize((width, height))
    green = Image.linear_gradient("L").resize((width, height))
    blue = Image.new("L", (width, height), 96)
    out = io.BytesIO()
    pil_format = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
    Image.merge("RGB", (red, green, blue)).save(out, pil_format)
    return out.getvalue()


def _even(n: float) -> int:
    return max(16, round(n / 2) * 2)


def small_frame(width: int, height: int, longest: int = 256) -> tuple[int, int]:
    """The requested shape scaled down so the longest side is ``longest`` (even numbers)."""
    scale = min(1.0, longest / max(width, height))
    return _even(width * scale), _even(height * scale)


def mp4(width: int, height: int, seconds: float, *, audio: bool = False, fps: int = 8) -> bytes:
    """An H.264 MP4 of ``seconds`` at a small frame of the requested aspect; AAC sound when asked."""
    w, h = small_frame(width, height)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "zerolatency"}
        sound = container.add_stream("aac", rate=22050) if audio else None
        frames = max(1, round(seconds * fps))
        for i in range(frames):
            level = int(255 * i / max(1, frames - 1))
            frame = av.VideoFrame.from_image(Image.new("RGB", (w, h), (level, 80, 255 - level)))
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            _encode_tone(container, sound, seconds, 22050)
    return out.getvalue()


def _tone(seconds: float, rate: int) -> bytes:
    """A 440 Hz tone as signed 16-bit little-endian mono samples."""
    count = int(seconds * rate)
    return struct.pack(
        f"<{count}h", *(int(6000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count))
    )


def _encode_tone(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float, rate: int
) -> None:
    samples = _tone(seconds, rate)
    size = stream.codec_context.frame_size or 1024
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
    for start in range(0, len(samples) // 2, size):
        chunk = samples[start * 2 : (start + size) * 2]
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(chunk) // 2)
        frame.planes[0].update(chunk)
        frame.sample_rate = rate
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "pcm": "audio/pcm",
}


def audio(fmt: str, seconds: float, rate: int = 24000) -> bytes:
    """``seconds`` of a tone as ``fmt``: mp3, wav, flac, opus (Ogg), aac (ADTS) or pcm (s16le mono)."""
    if fmt == "pcm":
        return _tone(seconds, rate)
    if fmt == "wav":
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(_tone(seconds, rate))
        return out.getvalue()
    codec, container_format = {
        "mp3": ("libmp3lame", "mp3"),
        "flac": ("flac", "flac"),
        "opus": ("libopus", "ogg"),
        "aac": ("aac", "adts"),
    }[fmt]
    if fmt == "opus":
        rate = 48000
    out = io.BytesIO()
    with av.open(out, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        _encode_tone(container, stream, seconds, rate)
    return out.getvalue()


def ulaw(seconds: float) -> bytes:
    """8 kHz mu-law bytes (headerless, as ElevenLabs' ulaw_8000)."""
    pcm = _tone(seconds, 8000)
    out = bytearray()
    for (s,) in struct.iter_unpack("<h", pcm):
        sign = 0x80 if s < 0 else 0
        s = min(abs(s), 32635) + 132
        exponent = max(0, int(math.log2(s)) - 7)
        mantissa = (s >> (exponent + 3)) & 0x0F
        out += struct.pack("B", ~(sign | (exponent << 4) | mantissa) & 0xFF)
    return bytes(out)


def gif(width: int, height: int) -> bytes:
    w, h = small_frame(width, height)
    frames = [Image.new("RGB", (w, h), (i * 60, 80, 200 - i * 40)) for i in range(4)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=125, loop=0)
    return out.getvalue()


def sniff_image(data: bytes) -> str | None:
    """The content type of an image by its content (Pillow), or None when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}.get(
                str(img.format)
            )
    except (OSError, ValueError):
        return None
