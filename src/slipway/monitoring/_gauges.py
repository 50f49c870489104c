"""Monitor results as Prometheus gauges: each monitor's latest window, in the text format.

Monitors run as a command (cron, a Kubernetes CronJob), not as a server, so the gauges are written
where Prometheus can collect them: a node-exporter textfile (``slipway monitor run --metrics-file``)
or the output of ``slipway monitor metrics``. prometheus-client renders them, so names, label
escaping and the format are its, not ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from prometheus_client.core import Metric

    from slipway.core import Monitor, MonitorResult

__all__ = ["prometheus_text"]


def prometheus_text(monitors: Sequence[Monitor], latest: Mapping[str, MonitorResult | None]) -> bytes:
    """The gauges of every monitor's latest result (``latest`` maps monitor name to it)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class _Collector:
        def collect(self) -> Iterator[Metric]:
            figure = GaugeMetricFamily(
                "slipway_monitor_figure",
                "A figure of the monitor's latest evaluated window (drift.share, performance.roc_auc, ...)",
                labels=["monitor", "deployment", "figure"],
            )
            breached = GaugeMetricFamily(
                "slipway_monitor_rule_breached",
                "1 when the rule fired on the monitor's latest window, else 0",
                labels=["monitor", "rule"],
            )
            window_end = GaugeMetricFamily(
                "slipway_monitor_window_end_timestamp_seconds",
                "End of the monitor's latest evaluated window (Unix time)",
                labels=["monitor"],
            )
            for monitor in monitors:
                result = latest.get(monitor.name)
                if result is None:
                    continue
                window_end.add_metric([monitor.name], result.window_end / 1000)
                for name, value in sorted(result.figures.items()):
                    if value is not None:
                        figure.add_metric([monitor.name, monitor.deployment, name], float(value))
                for rule in monitor.rules:
                    rule_name = str(rule.get("name") or rule.get("figure"))
                    breached.add_metric([monitor.name, rule_name], float(rule_name in result.breaches))
            yield figure
            yield breached
            yield window_end

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    text: bytes = generate_latest(registry)
    return text
