#!/usr/bin/python3
"""Draws the card ornaments in this directory (RGBA PNGs) from simple shapes.

Pure Python (zlib only), anti-aliased with signed distances. Run from this directory:
    /usr/bin/python3 ornaments.py
The output is deterministic, so re-running it changes nothing.
"""
import math
import struct
import zlib


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = [[0.0, 0.0, 0.0, 0.0] for _ in range(w * h)]  # premultiplied RGBA

    def shape(self, sdf, bbox, colour, alpha=1.0):
        """Fills where sdf(x, y) < 0, with a one-pixel soft edge."""
        r, g, b = (int(colour[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
        x0, y0, x1, y1 = bbox
        for y in range(max(0, int(y0) - 2), min(self.h, int(y1) + 3)):
            for x in range(max(0, int(x0) - 2), min(self.w, int(x1) + 3)):
                d = sdf(x + 0.5, y + 0.5)
                a = min(1.0, max(0.0, 0.5 - d)) * alpha
                if a <= 0:
                    continue
                p = self.px[y * self.w + x]
                k = 1 - a
                p[0] = r * a + p[0] * k
                p[1] = g * a + p[1] * k
                p[2] = b * a + p[2] * k
                p[3] = a + p[3] * k

    def circle(self, cx, cy, rad, colour, alpha=1.0):
        self.shape(lambda x, y: math.hypot(x - cx, y - cy) - rad,
                   (cx - rad, cy - rad, cx + rad, cy + rad), colour, alpha)

    def ring(self, cx, cy, rad, width, colour, alpha=1.0):
        self.shape(lambda x, y: abs(math.hypot(x - cx, y - cy) - rad) - width / 2,
                   (cx - rad - width, cy - rad - width, cx + rad + width, cy + rad + width), colour, alpha)

    def capsule(self, ax, ay, bx, by, r0, colour, r1=None, alpha=1.0):
        """A stroke from a to b, radius r0 at a tapering to r1 at b."""
        r1 = r0 if r1 is None else r1
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy or 1e-9

        def sdf(x, y):
            t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / ll))
            return math.hypot(x - ax - t * dx, y - ay - t * dy) - (r0 + (r1 - r0) * t)
        rr = max(r0, r1)
        self.shape(sdf, (min(ax, bx) - rr, min(ay, by) - rr, max(ax, bx) + rr, max(ay, by) + rr), colour, alpha)

    def leaf(self, cx, cy, length, width, angle, colour, alpha=1.0):
        """A pointed leaf (the intersection of two discs) centred at c along angle."""
        ca, sa = math.cos(angle), math.sin(angle)
        hl, hw = length / 2, width / 2
        rad = (hl * hl + hw * hw) / (2 * hw)   # disc through both tips and the leaf's edge

        def sdf(x, y):
            u = (x - cx) * ca + (y - cy) * sa
            v = -(x - cx) * sa + (y - cy) * ca
            return max(math.hypot(u, v - (hw - rad)) - rad, math.hypot(u, v + (hw - rad)) - rad)
        self.shape(sdf, (cx - hl, cy - hl, cx + hl, cy + hl), colour, alpha)

    def polygon(self, pts, colour, alpha=1.0):
        n = len(pts)

        def sdf(x, y):
            d = float("inf")
            inside = False
            for i in range(n):
                (ax, ay), (bx, by) = pts[i], pts[(i + 1) % n]
                dx, dy = bx - ax, by - ay
                t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
                d = min(d, math.hypot(x - ax - t * dx, y - ay - t * dy))
                if (ay > y) != (by > y) and x < ax + (y - ay) * dx / (by - ay):
                    inside = not inside
            return -d if inside else d
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        self.shape(sdf, (min(xs), min(ys), max(xs), max(ys)), colour, alpha)

    def star(self, cx, cy, r_out, r_in, colour, points=5, rot=-math.pi / 2, alpha=1.0):
        pts = []
        for i in range(points * 2):
            r = r_out if i % 2 == 0 else r_in
            a = rot + i * math.pi / points
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        self.polygon(pts, colour, alpha)

    def save(self, path):
        raw = bytearray()
        for y in range(self.h):
            raw.append(0)
            for x in range(self.w):
                r, g, b, a = self.px[y * self.w + x]
                if a > 0:
                    r, g, b = r / a, g / a, b / a
                raw += bytes((round(r * 255), round(g * 255), round(b * 255), round(a * 255)))

        def chunk(tag, data):
            return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 6, 0, 0, 0))
        png += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
        with open(path, "wb") as f:
            f.write(png)


class Rand:
    """A tiny LCG so the drawings never change between runs."""
    def __init__(self, seed):
        self.s = seed

    def __call__(self):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return self.s / 0x7FFFFFFF


def flourish(path, colour):
    c = Canvas(480, 48)
    cy = 24
    c.capsule(240, cy, 30, cy, 2.2, colour, 0.4)
    c.capsule(240, cy, 450, cy, 2.2, colour, 0.4)
    c.polygon([(240, cy - 13), (253, cy), (240, cy + 13), (227, cy)], colour)
    for s in (-1, 1):
        c.circle(240 + s * 24, cy, 3.2, colour)
        c.circle(240 + s * 36, cy, 2.0, colour)
        c.circle(240 + s * 222, cy, 3.0, colour)
    c.save(path)


def confetti(path, palette, seed, w=600, h=150, n=46):
    c = Canvas(w, h)
    rnd = Rand(seed)
    for i in range(n):
        x, y = 12 + rnd() * (w - 24), 12 + rnd() * (h - 24)
        col = palette[i % len(palette)]
        kind = rnd()
        if kind < 0.45:
            c.circle(x, y, 3 + rnd() * 4, col, 0.9)
        elif kind < 0.8:
            a = rnd() * math.pi
            ln = 8 + rnd() * 9
            c.capsule(x - ln * math.cos(a) / 2, y - ln * math.sin(a) / 2,
                      x + ln * math.cos(a) / 2, y + ln * math.sin(a) / 2, 2.6, col, alpha=0.9)
        else:
            c.star(x, y, 7 + rnd() * 3, 3.2, col, alpha=0.95)
    c.save(path)


def laurel(path, leaf_colour, berry_colour):
    """An open wreath: two leafy branches rising from the bottom up either side."""
    c = Canvas(340, 320)
    cx, cy, rad = 170, 150, 128
    for side in (1, -1):   # 1: the left branch (angles past 90 degrees), -1: the right
        n = 11
        pts = []
        for i in range(n + 1):
            t = math.radians(90 + side * (12 + i * 10.5))
            pts.append((cx + rad * math.cos(t), cy + rad * math.sin(t), t))
        for i in range(n):
            c.capsule(pts[i][0], pts[i][1], pts[i + 1][0], pts[i + 1][1], 2.2 - i * 0.1, leaf_colour)
        for i in range(n):
            x, y, t = pts[i]
            grow = math.atan2(side * math.cos(t), -side * math.sin(t))
            size = 40 - i * 1.9
            for off in (-0.62, 0.62):
                a = grow + off
                c.leaf(x + math.cos(a) * size * 0.48, y + math.sin(a) * size * 0.48, size, size * 0.4, a,
                       leaf_colour)
        x, y, t = pts[n]
        grow = math.atan2(side * math.cos(t), -side * math.sin(t))
        c.leaf(x + math.cos(grow) * 14, y + math.sin(grow) * 14, 30, 12, grow, leaf_colour)
        c.circle(cx - side * 22, cy + rad - 2, 5, berry_colour)
    c.circle(cx, cy + rad + 4, 5.5, berry_colour)
    c.save(path)


def snowflake(c, cx, cy, r, colour, alpha=1.0):
    for k in range(6):
        a = k * math.pi / 3
        ex, ey = cx + r * math.cos(a), cy + r * math.sin(a)
        c.capsule(cx, cy, ex, ey, max(1.2, r * 0.07), colour, alpha=alpha)
        for f in (0.55, 0.78):
            bx, by = cx + r * f * math.cos(a), cy + r * f * math.sin(a)
            for s in (-1, 1):
                b = a + s * math.pi / 4
                ln = r * (0.32 if f < 0.6 else 0.22)
                c.capsule(bx, by, bx + ln * math.cos(b), by + ln * math.sin(b), max(1.0, r * 0.055), colour,
                          alpha=alpha)


def holiday(path):
    c = Canvas(600, 150)
    rnd = Rand(7)
    flakes = [(300, 75, 46, "#1F3A5F"), (180, 60, 26, "#7FA7C9"), (420, 60, 26, "#7FA7C9"),
              (90, 95, 16, "#B08D57"), (510, 95, 16, "#B08D57"), (40, 40, 10, "#7FA7C9"), (560, 40, 10, "#7FA7C9")]
    for x, y, r, col in flakes:
        snowflake(c, x, y, r, col)
    for _ in range(26):
        c.circle(20 + rnd() * 560, 15 + rnd() * 120, 1.5 + rnd() * 2.2, "#B08D57", 0.8)
    c.save(path)


def sprig(path, stem, leaf_colour, flower):
    c = Canvas(420, 170)
    pts = [(20 + i * 19, 120 - 70 * math.sin(i / 20 * math.pi * 0.9) + i * 1.5) for i in range(21)]
    for i in range(len(pts) - 1):
        c.capsule(pts[i][0], pts[i][1], pts[i + 1][0], pts[i + 1][1], 2.4 - i * 0.07, stem)
    for i in range(2, 19, 2):
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        a = math.atan2(y1 - y0, x1 - x0)
        size = 34 - i * 0.9
        for s in (-1, 1):
            b = a + s * 0.9
            c.leaf(x0 + math.cos(b) * size * 0.45, y0 + math.sin(b) * size * 0.45, size, size * 0.4, b,
                   leaf_colour, 0.95)
    x, y = pts[-1]
    for k in range(5):
        a = k * 2 * math.pi / 5 - math.pi / 2
        c.leaf(x + math.cos(a) * 9, y + math.sin(a) * 9, 18, 11, a, flower)
    c.circle(x, y, 4.2, "#E9C46A")
    c.save(path)


def rings(path, colour, colour2):
    c = Canvas(260, 150)
    c.ring(100, 75, 52, 9, colour)
    c.ring(160, 75, 52, 9, colour2)
    # weave: redraw the first ring's top-right crossing over the second
    c.shape(lambda x, y: max(abs(math.hypot(x - 100, y - 75) - 52) - 4.5, -(x - 135), (y - 75)),
            (130, 20, 160, 80), colour)
    c.save(path)


def stars(path, colours):
    c = Canvas(300, 130)
    c.star(150, 62, 52, 21, colours[0])
    c.star(66, 86, 28, 11.5, colours[1])
    c.star(234, 86, 28, 11.5, colours[1])
    for x, y, r in ((30, 40, 3), (270, 40, 3), (105, 20, 2.4), (195, 20, 2.4)):
        c.circle(x, y, r, colours[2])
    c.save(path)


def sunrise(path, sun, rays):
    c = Canvas(360, 150)
    cx, cy = 180, 140
    for k in range(13):
        a = math.pi + k * math.pi / 12
        c.capsule(cx + 78 * math.cos(a), cy + 78 * math.sin(a), cx + 122 * math.cos(a), cy + 122 * math.sin(a),
                  3.2, rays, 1.2)
    c.shape(lambda x, y: max(math.hypot(x - cx, y - cy) - 62, y - cy), (cx - 62, cy - 62, cx + 62, cy), sun)
    c.capsule(40, cy + 4, 320, cy + 4, 2.2, rays, 0.6)
    c.save(path)


if __name__ == "__main__":
    flourish("flourish-gold.png", "#B08D57")
    flourish("flourish-teal.png", "#2F6F73")
    flourish("flourish-silver.png", "#8A96A3")
    confetti("confetti.png", ["#7A1F3D", "#C9A227", "#2F6F73", "#E07A5F"], 11)
    confetti("confetti-platinum.png", ["#8A96A3", "#1B2A41", "#C0C7CF", "#B08D57"], 5, n=40)
    laurel("laurel.png", "#4F7A5A", "#B08D57")
    holiday("snowflakes.png")
    sprig("sprig.png", "#6B8F71", "#8DB596", "#D98C8C")
    rings("rings.png", "#B08D57", "#8A96A3")
    stars("stars.png", ["#C9A227", "#1F3A5F", "#C9A227"])
    sunrise("sunrise.png", "#E9A23B", "#E9C46A")
