"""A subject's face (geometry and appearance) and the cv2 renderer that draws it with an AU vector.

Geometry is in face units: origin at the face centre, face half-width 1, y pointing down. The renderer maps
face units to pixels with a scale and centre (the domain's framing) and draws anti-aliased polygons at
1/16-pixel precision, so small AU movements still change the image at 48x48.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bench.data.synth.expressions import (
    AU1,
    AU2,
    AU4,
    AU5,
    AU6,
    AU7,
    AU9,
    AU10,
    AU12,
    AU14,
    AU15,
    AU17,
    AU20,
    AU23,
    AU26,
)

SHIFT = 4  # cv2 fractional bits: coordinates are passed in 1/16 pixel
_ONE = float(1 << SHIFT)
_AA = cv2.LINE_AA
_T = np.linspace(0.0, 1.0, 9)
_BUMP = np.sin(np.pi * _T)  # zero at the ends (eye and mouth corners), one in the middle
_LIPS = np.sqrt(_BUMP)  # lip thickness profile: full most of the way, thin at the corners
# Point templates as (9, 2) arrays, so a curve is a few multiply-adds instead of a stack per call.
_ALONG = np.stack([_T, np.zeros_like(_T)], axis=1)  # x from 0 to 1
_UP_BUMP = np.stack([np.zeros_like(_T), _BUMP], axis=1)  # y bump
_UP_LIPS = np.stack([np.zeros_like(_T), _LIPS], axis=1)
_UP_TAPER = np.stack([np.zeros_like(_T), 1.0 - 0.5 * _T], axis=1)  # brow thickness: thinner at the tail
_BEZIER = np.stack([(1 - _T) ** 2, 2 * (1 - _T) * _T, _T**2], axis=1)  # (9, 3) quadratic Bezier basis


@dataclass(frozen=True)
class Face:
    """One subject's identity, in face units (see module docstring) and gray levels."""

    height: float  # face half-height / half-width
    chin: float  # half-width of the chin ellipse (narrow: pointed jaw)
    skin: int
    lip: int  # how much darker the lips are than the skin
    hair: int
    hair_style: int  # 0 short, 1 long, 2 receding
    hairline: float
    hair_tilt: float  # degrees: a side parting
    eye_x: float  # half the distance between the eye centres
    eye_y: float
    eye_w: float  # eye half-width
    eye_h: float  # upper-lid opening at rest
    iris: int
    brow_thick: float
    brow_gap: float  # rest height of the brow above the eye
    brow_len: float
    brow_arch: float
    brow_tone: int
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip_thick: float
    mouth_curve: float  # resting corner height: >0 corners up
    fold: float  # nasolabial fold depth at rest (age)
    glasses: bool


def sample_face(rng: np.random.Generator, spread: float = 1.0, glasses: float = 0.0) -> Face:
    """Draw a subject; ``spread`` scales between-subject variation (a lab recruits a narrower population)."""

    def u(lo: float, hi: float) -> float:
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * spread
        return float(rng.uniform(mid - half, mid + half))

    skin = int(u(95, 205))
    hair = int(rng.choice([u(15, 60), u(60, 120), u(140, 210)], p=[0.6, 0.25, 0.15]))
    return Face(
        height=u(1.22, 1.45), chin=u(0.5, 0.72), skin=skin, lip=int(u(25, 60)),
        hair=hair, hair_style=int(rng.choice(3, p=[0.5, 0.35, 0.15])), hairline=u(-0.95, -0.6),
        hair_tilt=u(-12, 12),
        eye_x=u(0.36, 0.47), eye_y=u(-0.16, -0.02), eye_w=u(0.13, 0.19), eye_h=u(0.06, 0.09),
        iris=int(u(20, 90)),
        brow_thick=u(0.035, 0.085), brow_gap=u(0.14, 0.24), brow_len=u(0.85, 1.2), brow_arch=u(0.0, 0.06),
        brow_tone=int(min(hair, skin - 50) if hair < skin else u(30, 90)),
        nose_y=u(0.26, 0.4), nose_w=u(0.12, 0.2),
        mouth_y=u(0.6, 0.74), mouth_w=u(0.24, 0.34), lip_thick=u(0.035, 0.07), mouth_curve=u(-0.025, 0.025),
        fold=u(0.0, 0.35), glasses=bool(rng.random() < glasses),
    )


class _Pen:
    """Maps face units to 1/16-pixel integer coordinates and wraps the cv2 calls."""

    def __init__(self, img: np.ndarray, scale: float, cx: float, cy: float, yaw: float) -> None:
        self.img, self.k = img, scale
        # Pseudo-yaw: inner features slide towards the turned side and narrow; the head outline stays put.
        fs, fx = 1.0 - 0.12 * abs(yaw), 0.2 * yaw
        one = _ONE * scale
        # pixel = xy * gain + offset, in 1/16 pixel (+0.5: round instead of truncate)
        self._gain = {True: np.array([one * fs, one]), False: np.array([one, one])}
        self._offset = {True: np.array([(cx + scale * fx) * _ONE + 0.5, cy * _ONE + 0.5]),
                        False: np.array([cx * _ONE + 0.5, cy * _ONE + 0.5])}

    def px(self, xy: np.ndarray, feature: bool = True) -> np.ndarray:
        return (xy * self._gain[feature] + self._offset[feature]).astype(np.int32)

    def fill(self, xy: np.ndarray, color: float, feature: bool = True) -> None:
        cv2.fillPoly(self.img, [self.px(xy, feature)], float(color), _AA, SHIFT)

    def line(self, xy: np.ndarray, color: float, width: float = 0.02) -> None:
        thick = max(1, int(round(width * self.k)))
        cv2.polylines(self.img, [self.px(xy)], False, float(color), thick, _AA, SHIFT)

    def ellipse(self, center: tuple[float, float], axes: tuple[float, float], color: float, *,
                angle: float = 0.0, start: float = 0.0, end: float = 360.0, feature: bool = True,
                width: float | None = None) -> None:
        g, o = self._gain[feature], self._offset[feature]
        c = (int(center[0] * g[0] + o[0]), int(center[1] * g[1] + o[1]))
        ax = (max(1, int(axes[0] * g[1] + 0.5)), max(1, int(axes[1] * g[1] + 0.5)))
        thick = -1 if width is None else max(1, int(round(width * self.k)))
        cv2.ellipse(self.img, c, ax, angle, start, end, float(color), thick, _AA, SHIFT)


def _curve(p0: tuple[float, float], mid: tuple[float, float], p2: tuple[float, float]) -> np.ndarray:
    """A quadratic Bezier from p0 to p2 that passes through ``mid`` at t=0.5 (9 points)."""
    ctrl = (2.0 * mid[0] - 0.5 * (p0[0] + p2[0]), 2.0 * mid[1] - 0.5 * (p0[1] + p2[1]))
    return _BEZIER @ np.array([p0, ctrl, p2], dtype=np.float64)


def _shade(base: int, amount: float) -> float:
    return min(255.0, max(0.0, base - amount))


def render(img: np.ndarray, f: Face, au: np.ndarray, *, scale: float, cx: float, cy: float,
           yaw: float = 0.0, contempt_side: int = 1) -> None:
    """Draw face ``f`` showing AU activations ``au`` onto ``img`` (uint8, background already painted)."""
    a = au.tolist()  # python floats: cheaper than numpy scalars in the arithmetic below
    pen = _Pen(img, scale, cx, cy, yaw)
    skin, h = f.skin, f.height
    jaw = 0.14 * a[AU26]

    # ---------------------------------------------------------------- head
    if f.hair_style == 1:  # long hair falls behind the face and down to the shoulders
        pen.fill(np.array([[-1.25, -0.2], [1.25, -0.2], [1.35, 2.4], [-1.35, 2.4]]), f.hair, feature=False)
    pen.ellipse((0.0, -0.25), (1.12, h * 0.95), f.hair, feature=False)
    for s in (-1, 1):  # ears
        pen.ellipse((s * 0.97, 0.02), (0.13, 0.22), _shade(skin, 12), feature=False)
    pen.ellipse((0.0, 0.0), (1.0, h), skin, feature=False)
    pen.ellipse((0.0, h * 0.45 + jaw), (f.chin, h * 0.55), skin, feature=False)  # jaw drop lowers the chin
    if f.hair_style != 2:  # hair on top with a straight, slightly tilted hairline
        top = h + f.hairline + 0.25
        pen.ellipse((0.0, f.hairline), (1.06, top), f.hair, angle=f.hair_tilt, start=180, end=360, feature=False)
    else:
        pen.ellipse((0.0, -h * 0.9), (0.8, 0.35), f.hair, start=180, end=360, feature=False)

    # ---------------------------------------------------------------- brows and forehead
    ey, ex, ew = f.eye_y, f.eye_x, f.eye_w
    by = ey - f.brow_gap
    raise_ = a[AU1] + a[AU2]
    if raise_ > 0.3:  # horizontal forehead lines from lifting the brows
        for i, yy in enumerate((by - 0.2, by - 0.32)):
            if yy > f.hairline + 0.08 or f.hair_style == 2:
                pen.line(_curve((-0.4, yy + 0.03), (0.0, yy - 0.02 * i), (0.4, yy + 0.03)),
                         _shade(skin, 30 * min(raise_, 1.6)), 0.018)
    if a[AU4] > 0.25:  # vertical furrows between the brows
        for s in (-1, 1):
            x = s * 0.07
            pen.line(np.array([[x, by + 0.04], [x * 0.8, by - 0.1]]), _shade(skin, 70 * a[AU4]), 0.02)

    # ---------------------------------------------------------------- eyes
    up = f.eye_h * max(0.15, 1.0 + 1.2 * a[AU5] - 0.35 * a[AU7] - 0.3 * a[AU6] - 0.25 * a[AU4] - 0.15 * a[AU9])
    down = 0.6 * f.eye_h * max(0.1, 1.0 + 0.3 * a[AU5] - 0.6 * a[AU7] - 0.6 * a[AU6])
    iris_r = 0.55 * ew
    lid = max(0, f.iris - 10)
    for s in (-1, 1):
        line = _ALONG * (s * 2 * ew) + (s * (ex - ew), ey)
        upper = line - up * _UP_BUMP
        lower = line + down * _UP_BUMP
        pen.fill(np.concatenate([upper, lower[::-1]]), 225)
        pen.ellipse((s * ex, ey + 0.01), (iris_r, iris_r), f.iris)
        # Skin over the iris where the lids cover it.
        pen.fill(np.concatenate([upper, upper[::-1] - (0.0, iris_r + 0.02)]), skin)
        pen.fill(np.concatenate([lower, lower[::-1] + (0.0, iris_r + 0.02)]), skin)
        pen.line(upper, lid, 0.03)
        if a[AU6] + a[AU7] > 0.3:  # lower-lid bulge and crow's feet
            depth = 45 * min(a[AU6] + 0.5 * a[AU7], 1.4)
            pen.line(lower + [0.0, 0.05], _shade(skin, depth), 0.018)
            x0 = s * (ex + ew + 0.03)
            pen.line(np.array([[x0, ey - 0.02], [x0 + s * 0.09, ey - 0.06]]), _shade(skin, depth * a[AU6]), 0.015)
            pen.line(np.array([[x0, ey + 0.02], [x0 + s * 0.09, ey + 0.06]]), _shade(skin, depth * a[AU6]), 0.015)

        # brow: inner, middle and outer point, moved by AU1/AU2/AU4/AU9
        inner = [s * (ex - 1.05 * ew) - s * 0.07 * a[AU4],
                 by - 0.18 * a[AU1] + 0.14 * a[AU4] + 0.05 * a[AU9]]
        mid = [s * (ex + 0.1 * ew), by - f.brow_arch - 0.07 * a[AU1] - 0.12 * a[AU2] + 0.09 * a[AU4]]
        outer = [s * (ex + 1.25 * ew * f.brow_len), by + 0.03 - 0.17 * a[AU2] + 0.06 * a[AU4]]
        centre = _curve(inner, mid, outer)
        half = 0.5 * f.brow_thick * _UP_TAPER
        pen.fill(np.concatenate([centre - half, (centre + half)[::-1]]), f.brow_tone)

    # ---------------------------------------------------------------- nose and folds
    ny, nw = f.nose_y, f.nose_w * (1.0 + 0.25 * a[AU9])
    wing_y = ny - 0.06 * a[AU9] - 0.03 * a[AU10]
    pen.line(_curve((-nw, wing_y), (0.0, wing_y + 0.06), (nw, wing_y)), _shade(skin, 50), 0.02)
    for s in (-1, 1):
        pen.ellipse((s * nw * 0.45, wing_y + 0.01), (0.045, 0.022), _shade(skin, 75))
        pen.line(np.array([[s * 0.08, ey + 0.06], [s * nw * 0.85, wing_y - 0.1]]), _shade(skin, 18), 0.015)
    if a[AU9] > 0.2:  # wrinkles across the bridge
        for yy in (ey + 0.06, ey + 0.13):
            pen.line(np.array([[-0.11, yy], [0.0, yy - 0.015], [0.11, yy]]), _shade(skin, 75 * a[AU9]), 0.018)

    # ---------------------------------------------------------------- mouth
    my, mw = f.mouth_y + 0.35 * jaw, f.mouth_w
    corners = []
    for s in (-1, 1):
        x = s * (mw + 0.08 * a[AU12] + 0.12 * a[AU20] - 0.08 * a[AU23])
        y = my - f.mouth_curve - 0.16 * a[AU12] + 0.12 * a[AU15] + 0.02 * a[AU20] + 0.02 * a[AU17]
        if s == contempt_side:  # AU14 is unilateral: one corner tucks up and back
            x += s * 0.06 * a[AU14]
            y -= 0.11 * a[AU14]
        corners.append((x, y))
    (lx, ly), (rx, ry) = corners
    centre = _curve((lx, ly), (0.0, my - 0.05 * a[AU17] + 0.03 * a[AU12]), (rx, ry))
    opening = 0.38 * a[AU26] + 0.06 * a[AU10] + 0.04 * max(0.0, a[AU20] - 0.3)
    thick = f.lip_thick * max(0.25, 1.0 - 0.65 * a[AU23] - 0.3 * a[AU20] + 0.2 * a[AU17])
    bump, lips = _UP_BUMP, _UP_LIPS
    upper_in = centre - (0.3 * opening + 0.05 * a[AU10]) * bump
    lower_in = centre + 0.7 * opening * bump
    upper_out = upper_in - 0.65 * thick * lips - 0.02 * a[AU10] * bump
    lower_out = lower_in + thick * lips

    for s, (x, y) in zip((-1, 1), corners):  # nasolabial folds deepen with smiles and sneers
        depth = f.fold + 0.8 * a[AU12] + 0.4 * a[AU6] + 0.7 * a[AU9] + 0.6 * a[AU10] + (
            0.6 * a[AU14] if s == contempt_side else 0.0)
        if depth > 0.15:
            fold = _curve((s * (nw + 0.04), wing_y - 0.02), (s * (nw + 0.15 + 0.03 * a[AU12]), (wing_y + y) / 2),
                          (x + s * 0.07, y + 0.06))
            pen.line(fold, _shade(skin, 55 * min(depth, 1.5)), 0.02)

    pen.fill(np.concatenate([upper_out, lower_out[::-1]]), _shade(skin, f.lip))
    if opening > 0.015:
        pen.fill(np.concatenate([upper_in, lower_in[::-1]]), 30)
        if a[AU12] + a[AU10] + a[AU20] > 0.4:  # teeth show when the lips are pulled back or raised
            band = min(0.45 * opening + 0.02, 0.06)
            pen.fill(np.concatenate([upper_in, (upper_in + band * bump)[::-1]]), 215)
    else:
        pen.line(centre, _shade(skin, f.lip + 40), 0.02)
    if a[AU14] > 0.2:  # the dimple
        x, y = corners[0 if contempt_side < 0 else 1]
        pen.line(_curve((x + contempt_side * 0.03, y - 0.05), (x + contempt_side * 0.06, y),
                        (x + contempt_side * 0.03, y + 0.05)), _shade(skin, 60 * a[AU14]), 0.02)
    if a[AU17] > 0.25:  # chin boss pushed up
        yy = float(lower_out[:, 1].max()) + 0.09
        pen.line(_curve((-0.15, yy + 0.02), (0.0, yy - 0.01), (0.15, yy + 0.02)), _shade(skin, 40 * a[AU17]), 0.02)

    if f.glasses:
        for s in (-1, 1):
            pen.ellipse((s * ex, ey), (ew * 1.45, ew * 1.05), 25, width=0.03)
        pen.line(np.array([[-(ex - 1.45 * ew), ey], [ex - 1.45 * ew, ey]]), 25, 0.03)
