#!/usr/bin/python3
"""The reportlab peer of bench/cards.sh: the shipped birthday card's layout (A6, gold frame,
confetti image, serif headline and name, wrapped message, closing, signature line and name)
for N recipients, one page each, into one PDF. Run with Debian's /usr/bin/python3.

usage: cards_reportlab.py N OUT.pdf ROOT   (ROOT: the repository, for fonts/ and templates/)
"""
import sys, time
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

n, out, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
FIRST = ["Zoë", "José", "Ελένη", "Дмитрий", "Hannah", "Liam", "Sophie", "Emily", "Yuki", "Olivia"]
LAST = ["Łukasiewicz", "Núñez", "Παπαδοπούλου", "Иванов", "Becker", "O'Connor", "Martin", "Carter", "Tanaka", "Smith"]
SIGNERS = ["Dana Ruiz", "Marcus Lee", "Priya Raman", "Sam Ortiz"]
for name, f in [("Lato", "Lato-Regular.ttf"), ("Dejavu", "DejaVuSans.ttf"),
                ("Noto", "NotoSerifDisplay-Regular.ttf"), ("NotoI", "NotoSerifDisplay-Italic.ttf")]:
    pdfmetrics.registerFont(TTFont(name, "%s/fonts/%s" % (root, f)))
W, H = 105 * mm, 148 * mm
BODY = ("Wishing you a wonderful birthday and a year ahead full of health, "
        "happiness and all the good things you deserve.")

def y(top_mm):            # the card's top-left millimetres to PDF points
    return H - top_mm * mm

def hex_(c):
    return tuple(int(c[i:i + 2], 16) / 255 for i in (1, 3, 5))

t0 = time.time()
c = canvas.Canvas(out, pagesize=(W, H), pageCompression=1)
c.setCreator("reportlab peer")
for i in range(n):
    first, last = FIRST[i % 10], LAST[(i // 10) % 10]
    c.setStrokeColorRGB(*hex_("#C9A227")); c.setLineWidth(0.6)
    c.roundRect(6 * mm, y(142), 93 * mm, 136 * mm, 2 * mm, stroke=1, fill=0)
    c.drawImage("%s/templates/images/confetti.png" % root, 12 * mm, y(31), 81 * mm, 20 * mm,
                mask="auto", preserveAspectRatio=True)
    c.setLineWidth(0.8); c.line(44 * mm, y(65), 61 * mm, y(65))
    c.setFillColorRGB(*hex_("#7A1F3D")); c.setFont("NotoI", 30)
    c.drawCentredString(W / 2, y(44), "Happy Birthday")
    c.setFillColorRGB(*hex_("#222222")); c.setFont("Noto", 21)
    c.drawCentredString(W / 2, y(59), "%s %s" % (first, last))
    c.setFillColorRGB(*hex_("#3A3A3A")); c.setFont("Lato", 10)
    for k, line in enumerate(simpleSplit(BODY, "Lato", 10, 73 * mm)):
        c.drawCentredString(W / 2, y(76) - k * 15, line)
    c.setFillColorRGB(*hex_("#7A1F3D")); c.setFont("NotoI", 11)
    c.drawCentredString(W / 2, y(103), "With warm wishes from all of us at Acme Corp")
    c.setStrokeColorRGB(*hex_("#9A9A9A")); c.line(30 * mm, y(122), 75 * mm, y(122))
    c.setFillColorRGB(*hex_("#555555")); c.setFont("Lato", 8)
    c.drawCentredString(W / 2, y(127), SIGNERS[i % 4])
    c.showPage()
c.save()
print("%.3f" % (time.time() - t0))
