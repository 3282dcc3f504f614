"""Region metrics (whole image, selection or painted density: tokens inside, quality inside and out,
before and after the last change) and the rate-quality records, for one tab."""
from __future__ import annotations

import panel as pn

from gpstoken.region_metrics import SIDES
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.region_analytics import SOURCES, RegionAnalytics, RegionReport
from gpstoken_studio.model.rate_records import RateBook
from gpstoken_studio.session import Session


def report_text(name: str, report: RegionReport | None) -> str:
    """One Markdown line of a region report."""
    if report is None:
        return f"{name}: -"
    m = report.metrics
    quality = " · ".join(f"PSNR {side} {m[f'psnr_{side}']:.2f} dB" for side in SIDES
                         if m.get(f"psnr_{side}") is not None)
    return (f"{name}: **{report.tokens}** of {report.total_tokens} tokens in the region "
            f"({100 * report.area_share:.1f}% of the area)" + (f" · {quality}" if quality else ""))


def rates_text(rates: RateBook) -> str:
    """The rate-quality records as a Markdown table (tokens, PSNR, SSIM, series)."""
    records = rates.records()
    if not records:
        return "No rate-quality records yet (each full result adds one; Sweep adds several)."
    rows = [f"| {r.tokens} | {r.psnr:.2f} | {r.ssim:.4f} | {r.origin} | {r.series()} |" for r in records]
    return "| tokens | PSNR | SSIM | origin | series |\n|---:|---:|---:|---|---|\n" + "\n".join(rows)


class AnalyticsPanel:
    """Follows the session's document (a RegionAnalytics per document) and its RateBook."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.analytics: RegionAnalytics | None = None
        self.source = pn.widgets.RadioButtonGroup(label="Region", options=list(SOURCES), value="image",
                                                  css_classes=["gps-region-source"])
        self.source.param.watch(lambda e: self.analytics and self.analytics.set_source(e.new), "value")
        self.region = pn.pane.Markdown("", css_classes=["gps-region"])
        self.rates = pn.pane.Markdown(rates_text(session.rates), css_classes=["gps-rates"])
        self.layout = pn.Column("**Region metrics**", self.source, self.region, "**Rate-quality records**", self.rates,
                                width=620)
        session.events.document.connect(self.set_document)
        session.rates.events.changed.connect(lambda *_: setattr(self.rates, "object", rates_text(session.rates)))
        self.set_document(session.document)

    def set_document(self, doc: Document | None) -> None:
        if self.analytics is not None:
            self.analytics.close()
            self.analytics = None
        if doc is not None:
            self.analytics = RegionAnalytics(doc, self.source.value)
            self.analytics.events.changed.connect(self._show)
            self._show(self.analytics)
        else:
            self.region.object = ""

    def _show(self, analytics: RegionAnalytics) -> None:
        self.region.object = report_text("after", analytics.after) + "\n\n" + report_text("before", analytics.before)
