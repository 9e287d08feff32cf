#!/usr/bin/env python3
"""Derive assets/DejaVuSans.ttf (embedded by dishloop-plot) from the system DejaVu Sans.

Run once by hand when the asset must be rebuilt; the build never runs it.
Needs `pip install fonttools` (4.x). Usage:

    python3 make_font.py [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]

What it changes (the licence in DejaVuSans-LICENSE.txt allows modification; the family is
renamed "DejaVu Sans dishloop" to mark it as modified):

1. Subset to the characters figures use: Latin (ASCII, Latin-1, Latin Extended-A), Greek,
   punctuation, super/subscripts, arrows, mathematical operators, box drawing and block
   elements. Hinting is dropped (ab_glyph ignores it). Kerning is kept.
2. Work around plotters 0.3.7's ab_glyph text renderer, which places each glyph's bitmap at
   the pen position and ignores the glyph's left side bearing (it uses the pixel bounds'
   min.y but not min.x). Narrow glyphs with a wide bearing ("i", "l", "1") then sit too far
   left and text looks unevenly spaced ("hi t rate"). ab_glyph computes a glyph's bounds from
   its outline points, so each glyph whose outline starts right of the origin gets one extra
   zero-area contour: a single on-curve point at (0, yMin). The bounds then start at x = 0,
   the bitmap includes the bearing, and plotters places the glyph correctly. The point draws
   nothing.
3. Work around the same renderer's vertical placement: it puts the baseline half a font size
   below the top of a layout box that is only size/1.24 high, so text anchored at its centre
   (tick labels, legend entries, cell values) sits about 0.22 of the font size too high.
   Every outline is moved down by SHIFT_UNITS = 0.216 * (ascent - descent) = 515 font units
   (ab_glyph scales so that ascent - descent = the font size), which centres digits and
   capitals on their anchor. Metrics are unchanged, so line layout is unaffected.
"""

import sys

from fontTools import subset
from fontTools.ttLib import TTFont

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DST = "DejaVuSans.ttf"
FAMILY = "DejaVu Sans dishloop"
SHIFT_UNITS = 515

RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1
    (0x0100, 0x017F),  # Latin Extended-A
    (0x0370, 0x03FF),  # Greek
    (0x2000, 0x206F),  # general punctuation
    (0x2070, 0x209F),  # super- and subscripts
    (0x20AC, 0x20AC),  # euro sign
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0x2500, 0x259F),  # box drawing, block elements
    (0x25A0, 0x25FF),  # geometric shapes
]

font = TTFont(SRC)
opts = subset.Options()
opts.hinting = False
opts.layout_features = ["kern"]
opts.legacy_kern = True
opts.name_IDs = ["*"]
opts.notdef_outline = True
sub = subset.Subsetter(opts)
sub.populate(unicodes=[u for a, b in RANGES for u in range(a, b + 1)])
sub.subset(font)

glyf = font["glyf"]
hmtx = font["hmtx"]
patched = 0
for name in font.getGlyphOrder():
    g = glyf[name]
    if g.isComposite() or g.numberOfContours <= 0:
        continue
    g.recalcBounds(glyf)
    if g.xMin > 0:
        g.coordinates.append((0, g.yMin))
        g.flags.append(1)  # on-curve
        g.endPtsOfContours.append(len(g.coordinates) - 1)
        g.numberOfContours += 1
        patched += 1
    g.coordinates.translate((0, -SHIFT_UNITS))
    g.recalcBounds(glyf)
    adv, _ = hmtx[name]
    hmtx[name] = (adv, g.xMin)

for rec in font["name"].names:
    if rec.nameID in (1, 3, 4, 16):
        rec.string = str(rec.toUnicode()).replace("DejaVu Sans", FAMILY)
    elif rec.nameID == 6:
        rec.string = str(rec.toUnicode()).replace("DejaVuSans", FAMILY.replace(" ", ""))

font.save(DST)
print(f"wrote {DST}: {len(font.getGlyphOrder())} glyphs, {patched} given a bearing anchor")
