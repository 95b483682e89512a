"""Draw the home-screen icons of the web app manifest (monitor/shell): a white tick on the
app's blue, as PNG at 192 and 512 px, each in two kinds:

- icon-<size>.png, purpose "any": a rounded square on a transparent ground;
- maskable-<size>.png, purpose "maskable": the blue to every edge, the tick inside the central
  circle of 40% radius that every launcher's mask keeps (https://w3c.github.io/manifest/#icon-masks).

Run once after changing the drawing; the PNGs are committed (monitor/static/icons/):

    python tools/make_icons.py

Standard library only (zlib for PNG): no image package becomes a dependency for four files."""
import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "monitor" / "static" / "icons"
BLUE = (0x0B, 0x5C, 0xAD)  # app.css's link and button colour, also the manifest's theme_color
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 3  # per axis, per pixel: smooth edges without an image library

# The tick, in units of the icon's side, centred: two strokes meeting at the bottom.
TICK = [(0.30, 0.52), (0.44, 0.66), (0.71, 0.37)]
STROKE = 0.085  # half the stroke's width


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _in_tick(x, y, scale):
    """Inside the tick drawn at `scale` of the full size about the centre."""
    u, v = 0.5 + (x - 0.5) / scale, 0.5 + (y - 0.5) / scale
    return any(_segment_distance(u, v, *TICK[i], *TICK[i + 1]) <= STROKE for i in range(len(TICK) - 1))


def _in_rounded_square(x, y, radius=0.18):
    cx, cy = min(max(x, radius), 1 - radius), min(max(y, radius), 1 - radius)
    return math.hypot(x - cx, y - cy) <= radius


def draw(size: int, maskable: bool) -> bytes:
    """RGBA rows of the icon."""
    rows = []
    for j in range(size):
        row = bytearray([0])  # PNG filter type 0 for the row
        for i in range(size):
            ground = tick = 0
            for sj in range(SAMPLES):
                for si in range(SAMPLES):
                    x, y = (i + (si + 0.5) / SAMPLES) / size, (j + (sj + 0.5) / SAMPLES) / size
                    inside = maskable or _in_rounded_square(x, y)
                    if inside:
                        ground += 1
                        # The maskable tick is smaller: it must sit within the safe circle.
                        tick += _in_tick(x, y, 0.72 if maskable else 1.0)
            n = SAMPLES * SAMPLES
            if not ground:
                row += bytes(4)
                continue
            share = tick / ground
            colour = [round(b + (w - b) * share) for b, w in zip(BLUE, WHITE)]
            row += bytes([*colour, round(255 * ground / n)])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size: int, rgba_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rgba_rows, 9))
            + chunk(b"IEND", b""))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        for maskable in (False, True):
            name = f"{'maskable' if maskable else 'icon'}-{size}.png"
            (OUT / name).write_bytes(png(size, draw(size, maskable)))
            print(OUT / name)


if __name__ == "__main__":
    main()
