"""Scraping a ``/metrics`` endpoint and reading samples, as Prometheus would."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape's samples, by sample name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0 if none)."""
        wanted = dict(labels or {})
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and wanted.items() <= have.items()
        )

    def has(self, name: str, labels: Mapping[str, str] | None = None) -> bool:
        """Whether any sample named ``name`` carries ``labels``."""
        wanted = dict(labels or {})
        return any(
            sample == name and wanted.items() <= have.items() for sample, have, _ in self.samples
        )


async def scrape(url: str) -> Scrape:
    """GET ``url`` and parse it with prometheus-client's own parser."""
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        assert answer.status == 200, await answer.text()
        assert answer.headers["Content-Type"].startswith("text/plain")
        return Scrape(await answer.text())
