"""A tile grid of the 53 Kreise of NRW for the reports' maps (issue 16): one square per Kreis, in a
fixed grid that keeps their relative positions (no geometry needed, every Kreis the same size, so
a small kreisfreie Stadt in the Ruhr counts as much as the Hochsauerlandkreis).

Made once from the Kreise's approximate centres: longitude and latitude scaled to an 11 × 9 grid,
each Kreis assigned to a cell by minimum total squared distance (scipy's linear_sum_assignment),
then Höxter moved one column west to close a gap. Row 0 is the north, column 0 the west.
"""

from __future__ import annotations

COLUMNS, ROWS = 10, 9

# Kreisschlüssel: (row, column, the name on the tile)
TILES = {
    "05111": (5, 2, "Düsseldorf"), "05112": (4, 1, "Duisburg"), "05113": (4, 3, "Essen"),
    "05114": (5, 1, "Krefeld"), "05116": (5, 0, "Mönchengl."), "05117": (4, 2, "Mülheim"),
    "05119": (3, 1, "Oberhausen"), "05120": (6, 4, "Remscheid"), "05122": (6, 3, "Solingen"),
    "05124": (5, 4, "Wuppertal"), "05154": (3, 0, "Kleve"), "05158": (5, 3, "Mettmann"),
    "05162": (6, 1, "Neuss"), "05166": (4, 0, "Viersen"), "05170": (2, 1, "Wesel"),
    "05314": (8, 3, "Bonn"), "05315": (7, 3, "Köln"), "05316": (6, 2, "Leverkusen"),
    "05334": (7, 0, "Aachen"), "05358": (7, 1, "Düren"), "05362": (7, 2, "Rhein-Erft"),
    "05366": (8, 2, "Euskirchen"), "05370": (6, 0, "Heinsberg"), "05374": (6, 5, "Oberberg"),
    "05378": (7, 4, "Rh.-Berg."), "05382": (8, 4, "Rhein-Sieg"), "05512": (3, 2, "Bottrop"),
    "05513": (3, 3, "Gelsenk."), "05515": (2, 5, "Münster"), "05554": (2, 2, "Borken"),
    "05558": (2, 4, "Coesfeld"), "05562": (2, 3, "Reckl."), "05566": (1, 4, "Steinfurt"),
    "05570": (2, 6, "Warendorf"), "05711": (2, 8, "Bielefeld"), "05754": (2, 7, "Gütersloh"),
    "05758": (1, 8, "Herford"), "05762": (3, 9, "Höxter"), "05766": (2, 9, "Lippe"),
    "05770": (0, 8, "Minden-L."), "05774": (3, 8, "Paderborn"), "05911": (4, 4, "Bochum"),
    "05913": (3, 5, "Dortmund"), "05914": (4, 5, "Hagen"), "05915": (3, 6, "Hamm"),
    "05916": (3, 4, "Herne"), "05954": (5, 5, "Ennepe-R."), "05958": (5, 7, "Hochsauerl."),
    "05962": (5, 6, "Märkischer"), "05966": (6, 6, "Olpe"), "05970": (6, 7, "Siegen-W."),
    "05974": (4, 7, "Soest"), "05978": (4, 6, "Unna"),
}  # fmt: skip
