"""Tray icons drawn with QPainter: a colored disc with a white glyph, one per TrayState.

Drawn, not loaded, so the package ships no image assets and every size stays sharp.
Glyphs are strokes rather than text, so they look the same without any font installed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from agent.tray.snapshot import TrayState

COLORS = {
    TrayState.OK: QColor("#2e9d4d"),
    TrayState.ATTENTION: QColor("#e69500"),
    TrayState.DISCONNECTED: QColor("#d0362f"),
    TrayState.UNPAIRED: QColor("#7b8794"),
}
SIZES = (16, 22, 32, 48, 64)


def _glyph(state: TrayState) -> QPainterPath:
    """The glyph on a 64x64 canvas: check, exclamation, cross, question mark."""
    path = QPainterPath()
    if state is TrayState.OK:
        path.moveTo(18, 33)
        path.lineTo(28, 43)
        path.lineTo(46, 22)
    elif state is TrayState.ATTENTION:
        path.moveTo(32, 15)
        path.lineTo(32, 37)
        path.addEllipse(QPointF(32, 48), 1.5, 1.5)
    elif state is TrayState.DISCONNECTED:
        path.moveTo(21, 21)
        path.lineTo(43, 43)
        path.moveTo(43, 21)
        path.lineTo(21, 43)
    else:
        path.moveTo(23, 24)
        path.arcTo(QRectF(23, 14, 18, 18), 180, -250)
        path.lineTo(32, 37)
        path.addEllipse(QPointF(32, 48), 1.5, 1.5)
    return path


def pixmap_for(state: TrayState, size: int = 64) -> QPixmap:
    """One rendering of a state's icon."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 64, size / 64)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(COLORS[state])
        painter.drawEllipse(QRectF(2, 2, 60, 60))
        pen = QPen(QColor("white"), 7, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(_glyph(state))
    finally:
        painter.end()
    return pixmap


def icon_for(state: TrayState) -> QIcon:
    """The tray icon for a state, at the usual tray sizes."""
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(pixmap_for(state, size))
    return icon
