"""Registration: find the four ArUco markers on a scanned front page and map layout points to pixels."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from zonepaper.layout import Layout


@dataclass(frozen=True)
class Registration:
    """A homography from layout points (top-left origin) to image pixels, and how well it fits."""

    matrix: np.ndarray  # 3x3, points -> pixels
    reprojection_error_px: float
    markers_found: int

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Map an (N, 2) array of layout points to pixel coordinates."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.matrix).reshape(-1, 2)


# In a corner region (a third of the page's width) a marker's outline is at least a tenth of the region's
# longer side even on a 100 dpi scan (OpenCV's default looks at outlines down to 3 %): the many small
# outlines of boxes and letters there are left out at once, a sixth of the search's time. The same
# markers and corners were found on 936 pages of every kind (grey, 1-bit, colour, 150 dpi, photos,
# turned, and some of them scaled to 100, 150 and 300 dpi). The whole page, searched when the corners
# gave too few, keeps OpenCV's default.
CORNER_PERIMETER = 0.1


@lru_cache(maxsize=2)
def _detector(min_perimeter: float | None = None) -> cv2.aruco.ArucoDetector:
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    parameters = cv2.aruco.DetectorParameters()
    if min_perimeter is not None:
        parameters.minMarkerPerimeterRate = min_perimeter
    return cv2.aruco.ArucoDetector(dictionary, parameters)


def _detect(gray: np.ndarray, dx: int = 0, dy: int = 0, min_perimeter: float | None = None) -> dict[int, np.ndarray]:
    corners, ids, _ = _detector(min_perimeter).detectMarkers(gray)
    if ids is None:
        return {}
    return {int(i): c.reshape(4, 2) + (dx, dy) for i, c in zip(ids.flatten(), corners)}


def find_markers(gray: np.ndarray) -> dict[int, np.ndarray]:
    """Marker id -> its four corners in pixels (clockwise from the marker's own top-left).

    The markers sit in the page corners whatever way the sheet lay in the scanner, so the
    four corner regions are searched first (a third of the work); the whole page only when
    fewer than two markers turn up there.
    """
    h, w = gray.shape[:2]
    cw, ch = int(w * 0.3), int(h * 0.25)
    found: dict[int, np.ndarray] = {}
    for x0, y0 in ((0, 0), (w - cw, 0), (0, h - ch), (w - cw, h - ch)):
        for marker_id, corners in _detect(gray[y0: y0 + ch, x0: x0 + cw], x0, y0, CORNER_PERIMETER).items():
            found.setdefault(marker_id, corners)
    if len(found) < 2:
        found = _detect(gray)
    return found


def register_page(gray: np.ndarray, layout: Layout, found: dict[int, np.ndarray] | None = None
                  ) -> Registration | None:
    """Homography from the layout to this image, from all marker corners found (`found`: the page's markers,
    already searched for); None if fewer than 2 markers."""
    found = find_markers(gray) if found is None else found
    src, dst = [], []
    for marker in layout.markers("front"):
        if marker.marker_id in found:
            r = marker.rect
            src.extend([(r.x, r.y), (r.right, r.y), (r.right, r.bottom), (r.x, r.bottom)])
            dst.extend(found[marker.marker_id])
    if len(src) < 8:
        return None
    src_a, dst_a = np.array(src, dtype=np.float64), np.array(dst, dtype=np.float64)
    if len(src) >= 12:
        matrix, _ = cv2.findHomography(src_a, dst_a, 0)
    else:
        # Two markers (a corner clipped by the scanner): a similarity transform (rotation,
        # scale, shift) is well determined by them, where a homography would not be.
        affine, _ = cv2.estimateAffinePartial2D(src_a, dst_a, method=cv2.LMEDS)
        if affine is None:
            return None
        matrix = np.vstack([affine, [0.0, 0.0, 1.0]])
    projected = cv2.perspectiveTransform(src_a.reshape(-1, 1, 2), matrix).reshape(-1, 2)
    error = float(np.sqrt(((projected - dst_a) ** 2).sum(axis=1)).max())
    return Registration(matrix, error, len(src) // 4)


ALIGNED_DPI = 200


def align_page(gray: np.ndarray, reg: Registration, layout: Layout, dpi: int = ALIGNED_DPI) -> np.ndarray:
    """The page warped upright onto the layout's grid: layout point (x, y) is pixel (x, y) * dpi / 72."""
    k = dpi / 72.0
    scale = np.diag([k, k, 1.0])
    to_aligned = scale @ np.linalg.inv(reg.matrix)
    size = (int(round(layout.width * k)), int(round(layout.height * k)))
    return cv2.warpPerspective(gray, to_aligned, size, flags=cv2.INTER_LINEAR, borderValue=255)


def rotation_of(reg: Registration) -> int:
    """How the page lay in the scanner: 0, 90, 180 or 270 degrees (from the homography's x axis)."""
    origin, x_axis = reg.to_pixels(np.array([(0.0, 0.0), (100.0, 0.0)]))
    dx, dy = x_axis - origin
    angle = (np.degrees(np.arctan2(dy, dx)) + 360) % 360
    return int(round(angle / 90.0) % 4 * 90)
