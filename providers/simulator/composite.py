"""What the simulated Creatomate renders from a RenderScript and the media it was given.

* An image (``jpg``, ``png``) of image elements is composited with Pillow at the render size, in
  the order of the elements (later on top), each placed as RenderScript places it: ``x``/``y``
  put the element's anchor (``x_anchor``/``y_anchor``, a share of its own size) in the frame,
  ``width``/``height`` size it; lengths are pixels (a bare number or ``px``), ``%`` of the frame,
  ``vw``, ``vh``, ``vmin`` or ``vmax``; the defaults are 50% for the position and anchor and 100%
  for the size; ``fit`` is ``cover`` (the default), ``contain`` or ``fill``. Text elements are
  drawn with Pillow's default font. An image element without media is left out, as Creatomate does.
* An MP4 with a video element carries that video's frames (covering the frame, at the preview size
  the simulator renders videos at: :func:`media.preview_size`) up to the render's duration, and
  the first audio element's sound as AAC (from its ``time``, at most its ``duration``), trimmed to
  the video.
* Anything else (other element types in an image, GIF output, templates, media that does not
  decode) renders as the generated media of :mod:`providers.simulator.media`, as before.

The inputs are the bytes fetched when the render was submitted (:data:`MAX_KEPT_BYTES` at most),
so a render made at its first download does not depend on links that may have expired since;
they are dropped once the output is made, and the output is kept instead.
"""

from __future__ import annotations

import copy
import io
import logging
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from PIL import Image, ImageColor, ImageDraw, ImageFont, ImageOps

from providers.simulator import media

log = logging.getLogger(__name__)

# Inputs kept per render; beyond this the render is the generated media (Creatomate's own limits on
# input sizes are not documented; a render with inputs this large would take minutes there).
MAX_KEPT_BYTES = 50 * 1024 * 1024
MAX_VIDEO_FPS = 24
MAX_COMPOSITE_SECONDS = 300.0  # longer renders are drawn as the generated clip (bounded work in dev)
MAX_ELEMENT_SIDE = 4 * 4096
MEDIA_TYPES = ("image", "video", "audio")
_LENGTH = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(px|%|vw|vh|vmin|vmax)?\s*$")


class Unsupported(ValueError):
    """The RenderScript asks for something this stand-in does not draw."""


def element_key(element: dict[str, Any], index: int) -> str:
    """How an element's media is keyed: its name, else its id, else its place among the elements."""
    for key in ("name", "id"):
        if isinstance(element.get(key), str) and element[key]:
            return str(element[key])
    return f"#{index}"


def apply_modifications(elements: Any, modifications: Any) -> list[dict[str, Any]]:
    """The top-level elements (copies) with ``modifications`` applied: ``Name`` sets a media
    element's ``source`` or a text element's ``text``, ``Name.property`` sets that property."""
    found = (
        [copy.deepcopy(e) for e in elements or () if isinstance(e, dict)]
        if isinstance(elements, list)
        else []
    )
    by_key = {element_key(e, i): e for i, e in enumerate(found)}
    by_key.update({str(e["id"]): e for e in found if isinstance(e.get("id"), str)})
    for key, value in (modifications or {}).items() if isinstance(modifications, dict) else ():
        name, _, prop = str(key).partition(".")
        element = by_key.get(name)
        if element is None:
            continue
        if not prop:
            prop = "text" if element.get("type") == "text" else "source"
        element[prop] = value
    return found


@dataclass(frozen=True, eq=False)
class Composite(media.MediaSpec):
    """A Creatomate output made from its inputs on first render; the generated media otherwise.

    ``width``/``height`` are the output's (after ``render_scale``), ``script_size`` the
    RenderScript's own (what pixel lengths are measured in), ``sources`` the media bytes by
    :func:`element_key`."""

    script_size: tuple[int, int] = (1, 1)
    elements: tuple[dict[str, Any], ...] = ()
    sources: dict[str, bytes] = field(default_factory=dict)
    _made: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def render(self) -> bytes:
        with self._lock:
            if "output" not in self._made:
                made = None
                try:
                    if self.kind in ("jpeg", "png"):
                        made = self._image()
                    elif self.kind == "mp4":
                        made = self._video()
                except (
                    Unsupported,
                    ArithmeticError,
                    MemoryError,
                    av.error.FFmpegError,
                    OSError,
                    ValueError,
                    Image.DecompressionBombError,
                ) as exc:
                    log.info("simulated composite drawn as generated media: %s", exc)
                self._made["output"] = made if made is not None else super().render()
                self.sources.clear()
            return self._made["output"]

    def _source(self, element: dict[str, Any], index: int) -> bytes | None:
        """The element's media: fetched by its name (or place), or by its id."""
        found = self.sources.get(element_key(element, index))
        if found is None and isinstance(element.get("id"), str):
            found = self.sources.get(element["id"])
        return found

    # -- images ---------------------------------------------------------------------------------

    def _image(self) -> bytes | None:
        frame = Frame(
            self.width, self.height, self.width / self.script_size[0], self.height / self.script_size[1]
        )
        canvas = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 255))
        drawn = False
        for index, element in enumerate(self.elements):
            kind = element.get("type")
            if element.get("visible") is False:
                continue
            if kind == "image":
                data = self._source(element, index)
                if data is not None:
                    _draw_image(canvas, frame, element, data)
                    drawn = True
            elif kind == "text":
                _draw_text(canvas, frame, element)
            else:
                raise Unsupported(f"a {kind!r} element in an image")
        if not drawn:
            return None
        buffer = io.BytesIO()
        if self.kind == "jpeg":
            canvas.convert("RGB").save(buffer, format="JPEG", quality=90)
        else:
            canvas.save(buffer, format="PNG")
        return buffer.getvalue()

    # -- videos ---------------------------------------------------------------------------------

    def _video(self) -> bytes | None:
        video = audio = None
        for index, element in enumerate(self.elements):
            data = self._source(element, index)
            if data is None:
                continue
            if element.get("type") == "video" and video is None:
                video = data
            elif element.get("type") == "audio" and audio is None:
                audio = (element, data)
        if video is None:
            return None
        if not 0 < self.seconds <= MAX_COMPOSITE_SECONDS:  # drawn frame by frame: bounded work
            raise Unsupported(f"a {self.seconds} s video render")
        size = media.preview_size(self.width, self.height)
        limit = self.seconds
        pcm = _audio_pcm(audio[1], audio[0], limit) if audio is not None else b""
        buffer = io.BytesIO()
        with (
            av.open(io.BytesIO(video), mode="r") as source,
            av.open(buffer, mode="w", format="mp4") as container,
        ):
            fps = _frame_rate(source)
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            stream.options = {"preset": "ultrafast"}
            sound = container.add_stream("aac", rate=media.SAMPLE_RATE, layout="mono") if pcm else None
            count = 0
            for index, picture in enumerate(_video_frames(source, size, fps, limit)):
                frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
                count = index + 1
            if not count:
                return None
            container.mux(stream.encode(None))
            if sound is not None:
                assert isinstance(sound, av.AudioStream)
                for chunk in media.pcm_frames(pcm[: round(count / fps * media.SAMPLE_RATE) * 2]):
                    container.mux(sound.encode(chunk))
                container.mux(sound.encode(None))
        return buffer.getvalue()


@dataclass(frozen=True)
class Frame:
    """The render's frame: its pixel size and how many of them a RenderScript pixel is."""

    width: int
    height: int
    scale_x: float
    scale_y: float

    def length(self, value: Any, axis: str, default: str, *, own: float | None = None) -> float:
        """A RenderScript length in output pixels along ``axis`` ("x" or "y"); ``own`` is the
        element's size on that axis, for anchors (their % are of the element, not the frame)."""
        if value is None:
            value = default
        if isinstance(value, bool):
            raise Unsupported(f"length {value!r}")
        scale = self.scale_x if axis == "x" else self.scale_y
        if isinstance(value, int | float):
            return float(value) * scale
        match = _LENGTH.match(value) if isinstance(value, str) else None
        if match is None:
            raise Unsupported(f"length {value!r}")
        number, unit = float(match[1]), match[2] or "px"
        if unit == "px":
            return number * scale
        if unit == "%":
            whole = own if own is not None else (self.width if axis == "x" else self.height)
            return number / 100 * whole
        side = {
            "vw": self.width,
            "vh": self.height,
            "vmin": min(self.width, self.height),
            "vmax": max(self.width, self.height),
        }[unit]
        return number / 100 * side

    def box(
        self, element: dict[str, Any], natural: tuple[float, float] | None = None
    ) -> tuple[int, int, int, int]:
        """(left, top, width, height) of the element in output pixels; ``natural`` is its size
        when the RenderScript leaves width and height unset (text)."""
        default_w = default_h = "100%"
        if natural is not None:
            default_w, default_h = f"{natural[0] / self.scale_x}px", f"{natural[1] / self.scale_y}px"
        width = self.length(element.get("width"), "x", default_w)
        height = self.length(element.get("height"), "y", default_h)
        if not (1 <= width <= MAX_ELEMENT_SIDE and 1 <= height <= MAX_ELEMENT_SIDE):
            raise Unsupported(f"an element of {width:.0f}×{height:.0f} pixels")
        x = self.length(element.get("x"), "x", "50%")
        y = self.length(element.get("y"), "y", "50%")
        x -= self.length(element.get("x_anchor"), "x", "50%", own=width)
        y -= self.length(element.get("y_anchor"), "y", "50%", own=height)
        return round(x), round(y), max(1, round(width)), max(1, round(height))


def _draw_image(canvas: Image.Image, frame: Frame, element: dict[str, Any], data: bytes) -> None:
    left, top, width, height = frame.box(element)
    fit = element.get("fit") or "cover"
    with Image.open(io.BytesIO(data)) as opened:
        picture = ImageOps.exif_transpose(opened).convert("RGBA")
    if fit == "cover":
        tile = ImageOps.fit(picture, (width, height), Image.Resampling.LANCZOS)
    elif fit == "contain":
        tile = ImageOps.contain(picture, (width, height), Image.Resampling.LANCZOS)
        left += (width - tile.width) // 2
        top += (height - tile.height) // 2
    elif fit == "fill":
        tile = picture.resize((width, height), Image.Resampling.LANCZOS)
    else:
        raise Unsupported(f"fit {fit!r}")
    canvas.paste(tile, (left, top), tile)


def _draw_text(canvas: Image.Image, frame: Frame, element: dict[str, Any]) -> None:
    text = element.get("text")
    if not isinstance(text, str) or not text.strip():
        return
    size = max(4.0, frame.length(element.get("font_size"), "y", "5vmin"))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(canvas)
    bbox = draw.multiline_textbbox((0, 0), text, font=font)
    natural = (float(max(1, bbox[2] - bbox[0])), float(max(1, bbox[3] - bbox[1])))
    left, top, width, height = frame.box(element, natural)
    try:
        colour = ImageColor.getrgb(str(element.get("fill_color") or "#000000"))
    except ValueError as exc:
        raise Unsupported(f"fill_color {element.get('fill_color')!r}") from exc
    position = (left + (width - natural[0]) / 2 - bbox[0], top + (height - natural[1]) / 2 - bbox[1])
    draw.multiline_text(position, text, font=font, fill=colour, align="center")


def _frame_rate(container: av.container.InputContainer) -> int:
    """The output's frame rate: the input video's, at most :data:`MAX_VIDEO_FPS`."""
    stream = container.streams.video[0]
    return max(1, min(MAX_VIDEO_FPS, round(float(stream.average_rate or stream.guessed_rate or 12))))


def _video_frames(
    container: av.container.InputContainer, size: tuple[int, int], fps: int, limit: float
) -> Iterator[Image.Image]:
    """The input video's frames covering ``size`` at ``fps`` (each output frame shows the latest
    input frame at its time), up to ``limit`` seconds — its last frame held when the render is
    longer than the input, as a RenderScript's ``duration`` says — or, without a limit, to the
    input's end."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = float(stream.average_rate or stream.guessed_rate or fps)
    last: Image.Image | None = None
    made, end = 0, 0.0
    for decoded in container.decode(stream):
        at = float(decoded.time or 0.0)
        if at >= limit:
            break
        while last is not None and made / fps < at:
            yield last
            made += 1
        last = _cover(decoded, size)
        end = at + 1 / rate
    until = limit if math.isfinite(limit) else end
    while last is not None and made / fps < until:
        yield last
        made += 1


def _cover(frame: av.VideoFrame, size: tuple[int, int]) -> Image.Image:
    """The frame scaled to cover ``size`` and cropped to it, centred."""
    scale = max(size[0] / frame.width, size[1] / frame.height)
    width, height = max(size[0], round(frame.width * scale)), max(size[1], round(frame.height * scale))
    picture: Image.Image = frame.reformat(width=width, height=height, format="rgb24").to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
    left, top = (width - size[0]) // 2, (height - size[1]) // 2
    return picture.crop((left, top, left + size[0], top + size[1]))


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().removesuffix("s"))
        except ValueError:
            return None
    return None


def _audio_pcm(data: bytes, element: dict[str, Any], seconds: float) -> bytes:
    """The audio as 24 kHz mono s16 PCM on the render's timeline: silence until the element's
    ``time``, then the sound (at most the element's ``duration``), all cut at ``seconds``."""
    rate = media.SAMPLE_RATE
    start = max(0.0, _seconds(element.get("time")) or 0.0)
    if not start < seconds:  # the sound starts after the render ends: silence is all there is
        return b""
    own = _seconds(element.get("duration"))
    end = min(seconds, start + own) if own is not None and own > 0 else seconds
    wanted = max(0, round((end - start) * rate)) * 2
    pcm = bytearray()
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for decoded in container.decode(stream):
            for out in resampler.resample(decoded):
                pcm += bytes(out.planes[0])[: out.samples * 2]
            if len(pcm) >= wanted:
                break
        else:
            for out in resampler.resample(None):
                pcm += bytes(out.planes[0])[: out.samples * 2]
    if not pcm:
        return b""
    return bytes(round(start * rate) * 2) + bytes(pcm[:wanted])
