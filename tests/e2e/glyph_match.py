"""Compares a line of text on a card with HarfBuzz's own rendering of it (hb-view).

  glyph_match.py CARD.png SIZE_PX OUT_DIR SEGMENT...

SEGMENT is FONTFILE:INDEX:DIR:TEXT (DIR auto, which takes the direction and script from the
text, or ltr or rtl, which force a direction; no colon in FONTFILE), in display order
from left to right, as the card must show them. Each segment is rendered by hb-view at
SIZE_PX pixels per em and the images put side by side; both pictures are cropped to their
ink, binarised, brought to one size and compared. Prints the intersection over union of the
ink (1.0: identical). A segment may name "fallback" as its DIR suffix (ltr-fallback) to be
rendered without OpenType shaping (auto-fallback), which is how the test shows the measure
tells an unshaped rendering apart.
"""
import subprocess
import sys

from PIL import Image


def ink(img, threshold=140, size=None):
    g = img.convert("L")
    box = g.point(lambda v: 255 if v < threshold else 0).getbbox()
    if box:
        g = g.crop(box)
    if size:
        g = g.resize(size, Image.LANCZOS)
    return g.point(lambda v: 255 if v < threshold else 0)


def render(font, index, direction, text, size, out):
    cmd = ["hb-view", "--font-file=" + font, "--face-index=" + index, "--font-size=%d" % size,
           "--margin=%d" % size, "--output-format=png", "-o", out, "--text=" + text]
    d = direction.split("-")
    if d[0] != "auto":   # a direction given stops hb-view guessing the script too
        cmd.append("--direction=" + d[0])
    if len(d) > 1 and d[1] == "fallback":
        cmd.append("--shapers=fallback")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Image.open(out)


def main():
    card, size, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    parts = []
    segs = sys.argv[4:]
    for i, seg in enumerate(segs):
        font, index, direction, text = seg.split(":", 3)
        if len(segs) == 1:
            # hb-view clips the ink of the last glyph at its advance (a Tamil letter's stroke
            # may reach past it): a space after it keeps the whole glyph.
            text += " "
        parts.append(render(font, index, direction, text, size, "%s/ref%d.png" % (outdir, i)).convert("L"))
    # Each part was drawn with a margin of one em all round (marks may overhang the advance):
    # they are put side by side at their pen positions, overlapping margins kept white.
    m = size
    w = sum(p.width - 2 * m for p in parts) + 2 * m
    h = max(p.height for p in parts)
    ref = Image.new("L", (w, h), 255)
    x = 0
    for p in parts:
        ref.paste(Image.composite(ref.crop((x, 0, x + p.width, p.height)), p,
                                  p.point(lambda v: 255 if v >= 250 else 0)), (x, 0))
        x += p.width - 2 * m
    ref.save(outdir + "/ref.png")
    a = ink(Image.open(card))
    b = ink(ref, size=a.size)
    pa, pb = a.load(), b.load()
    inter = union = 0
    for y in range(a.height):
        for x in range(a.width):
            u, v = pa[x, y] > 0, pb[x, y] > 0
            inter += u and v
            union += u or v
    # Proportions too: a squeezed or stretched match is no match.
    ra = a.width / max(a.height, 1)
    rb = ink(ref).width / max(ink(ref).height, 1)
    ratio = min(ra, rb) / max(ra, rb)
    print("%.3f %.3f" % (inter / max(union, 1), ratio))


main()
