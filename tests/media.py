"""Checks that downloaded outputs are real media: decoded, not just sniffed."""

from __future__ import annotations

import io

import av
from PIL import Image


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
