"""Real media for the tests: checks that downloaded outputs are real media (decoded, not just
sniffed), and a seekable MP4 whose frames say where they are."""

from __future__ import annotations

import io
import os
import tempfile
from fractions import Fraction

import av
from PIL import Image, ImageDraw, ImageFont

# The colour of each second of :func:`seekable_mp4` (far apart, so H.264 cannot blur one into another).
SECOND_COLOURS = [(220, 30, 30), (30, 200, 30), (30, 60, 230), (230, 210, 20), (200, 30, 200), (20, 200, 210)]


def decoded_image(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()  # decodes every pixel
        return img.size


def decoded_av(data: bytes, kind: str) -> dict[str, float]:
    """Decode the first frames of the ``kind`` ("video" or "audio") stream; its facts."""
    with av.open(io.BytesIO(data)) as container:
        streams = container.streams.video if kind == "video" else container.streams.audio
        assert streams, f"no {kind} stream"
        stream = streams[0]
        frames = 0
        for _frame in container.decode(stream):
            frames += 1
            if frames >= 3:
                break
        assert frames > 0, f"no decodable {kind} frames"
        duration = float(container.duration or 0) / 1_000_000
        facts = {"frames": frames, "duration": duration}
        if kind == "video":
            facts.update(width=stream.codec_context.width, height=stream.codec_context.height)
        return facts


def check_output(content_type: str, data: bytes) -> dict[str, float]:
    if content_type.startswith("image/"):
        w, h = decoded_image(data)
        return {"width": w, "height": h}
    if content_type.startswith("video/"):
        return decoded_av(data, "video")
    if content_type.startswith("audio/"):
        return decoded_av(data, "audio")
    raise AssertionError(f"unexpected content type {content_type}")


def seekable_mp4(
    seconds: int = 5, fps: int = 10, size: tuple[int, int] = (640, 360), noise: int = 0
) -> bytes:
    """An H.264 MP4 of ``seconds`` seconds written "fast start" (its index, ``moov``, before the
    media data: a player reads the index, then seeks with Range requests). Second ``s`` is filled
    with ``SECOND_COLOURS[s]`` and every frame shows its time, large; ``noise`` rows of random
    pixels at the bottom make the file larger (they compress badly), so a browser reads it in ranges
    rather than all at once. A keyframe every half second: a seek lands on any frame quickly."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")  # faststart rewrites the file: a file, not a buffer
        _write_mp4(path, seconds, fps, size, noise)
        with open(path, "rb") as written:
            return written.read()


def _write_mp4(path: str, seconds: int, fps: int, size: tuple[int, int], noise: int) -> None:
    width, height = size
    font = ImageFont.load_default(size=height // 4)
    with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(max(1, fps // 2))}
        for index in range(seconds * fps):
            picture = Image.new("RGB", size, SECOND_COLOURS[index // fps % len(SECOND_COLOURS)])
            draw = ImageDraw.Draw(picture)
            draw.text((width // 2, height // 3), f"{index / fps:.1f} s", fill="white", font=font, anchor="mm")
            if noise:
                picture.paste(
                    Image.frombytes("RGB", (width, noise), os.urandom(width * noise * 3)), (0, height - noise)
                )
            frame = av.VideoFrame.from_image(picture)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
