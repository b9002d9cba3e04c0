"""Prometheus metrics on the daemon's own registry, and OpenTelemetry spans when installed.

`observe_decision` runs once per decision on the hot path, so it stays cheap: counter
children are cached per label set, and the latency histograms are plain bucket counts
(bisect on integer nanoseconds, ~0.3 µs per stage instead of ~1.5 µs for a
prometheus-client Histogram) exported by a custom collector at scrape time. Everything
runs on the event loop thread, scrapes included, so no lock is needed.

Agent labels are bounded: an id that names no agent of the policy counts as
`_unresolved`, and past `max_agents` distinct ids the rest count as `_other`, so callers
cannot grow the registry without limit.
"""

from __future__ import annotations

import importlib
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from faramesh.daemon.lifecycle import Lifecycle
from faramesh.pipeline.stages import STAGE_NAMES
from faramesh.policy.decision import Code

if TYPE_CHECKING:
    from faramesh.pipeline.outcome import Outcome

# Upper bounds in seconds: a decision takes tens of microseconds to a few milliseconds
# (an fsync), a selector call up to seconds.
BUCKETS_S = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
             5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BOUNDS_NS = tuple(round(b * 1e9) for b in BUCKETS_S)
_UNRESOLVED, _OTHER = "_unresolved", "_other"


class _Histograms(Collector):
    """One histogram family with one label; each series is bucket counts and a sum."""

    def __init__(self, name: str, doc: str, label: str | None,
                 series: Iterable[str] = ()) -> None:
        self.name, self.doc, self.label = name, doc, label
        self.series: dict[str, list[int]] = {s: self._empty() for s in series}

    @staticmethod
    def _empty() -> list[int]:
        return [0] * (len(_BOUNDS_NS) + 2)  # buckets..., +Inf, sum in ns

    def observe_ns(self, value_ns: int, series: str = "") -> None:
        counts = self.series.get(series)
        if counts is None:
            counts = self.series[series] = self._empty()
        counts[bisect_left(_BOUNDS_NS, value_ns)] += 1
        counts[-1] += value_ns

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.doc,
                                       labels=[self.label] if self.label else None)
        for series, counts in self.series.items():
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS_S, float("inf")), counts[:-1], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            family.add_metric([series] if self.label else [], buckets, counts[-1] / 1e9)
        yield family


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, max_agents: int = 1000) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=False)
        self.max_agents = max_agents
        self.decisions = Counter("faramesh_decisions", "Decisions answered, by agent, the "
                                 "effect the caller was told and the decision code.",
                                 ["agent", "effect", "code"], registry=registry)
        self.latency = _Histograms("faramesh_decision_latency_seconds",
                                   "Time to decide one call, receipt to answer.", None, [""])
        self.stage_latency = _Histograms("faramesh_stage_latency_seconds",
                                         "Time spent in each pipeline stage.", "stage",
                                         STAGE_NAMES)
        registry.register(self.latency)
        registry.register(self.stage_latency)
        self.ready = Gauge("faramesh_ready", "1 while the daemon is READY and deciding.",
                           registry=registry)
        self.lifecycle = Gauge("faramesh_lifecycle", "1 for the daemon's lifecycle state.",
                               ["state"], registry=registry)
        self.budget_spent = Gauge("faramesh_budget_spent_usd", "Spent in the current "
                                  "window.", ["agent", "budget"], registry=registry)
        self.budget_calls = Gauge("faramesh_budget_calls", "Calls counted in the current "
                                  "window.", ["agent", "budget"], registry=registry)
        self.rate_tokens = Gauge("faramesh_rate_limit_tokens", "Tokens left in a rate "
                                 "limit's bucket.", ["agent", "limit"], registry=registry)
        self._counters: dict[tuple[str | None, str, str], Any] = {}
        self._agents: set[str] = set()
        self._otel = _otel()
        self.refresh(Lifecycle.STARTING, None)

    # --- the hot path ---------------------------------------------------------------

    def observe_decision(self, outcome: Outcome) -> None:
        decision = outcome.decision
        key = (decision.agent_id, outcome.effect.value, decision.code.value)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.decisions.labels(
                self._agent_label(decision.agent_id, decision.code), key[1], key[2])
        counter.inc()
        self.latency.observe_ns(int(outcome.latency_us * 1000), "")
        series = self.stage_latency.series  # observe_ns, inlined: ~15 stages per decision
        for stage, latency_ns in outcome.stage_latency_ns.items():
            counts = series.get(stage)
            if counts is None:
                counts = series[stage] = _Histograms._empty()
            counts[bisect_left(_BOUNDS_NS, latency_ns)] += 1
            counts[-1] += latency_ns
        if self._otel is not None:
            _record_span(*self._otel, outcome)

    def _agent_label(self, agent_id: str | None, code: Code) -> str:
        if agent_id is None or code is Code.IDENTITY_UNRESOLVED:
            return _UNRESOLVED
        if agent_id in self._agents:
            return agent_id
        if len(self._agents) >= self.max_agents:
            return _OTHER
        self._agents.add(agent_id)
        return agent_id

    # --- scrape time ----------------------------------------------------------------

    def refresh(self, lifecycle: Lifecycle, status: Mapping[str, Any] | None) -> None:
        """Set the lifecycle gauges, and the budget and rate-limit gauges from the status
        report's `agents` (daemon/status.py). Session budgets are left out: one series
        per session would grow without bound."""
        self.ready.set(1 if lifecycle is Lifecycle.READY else 0)
        for state in Lifecycle:
            self.lifecycle.labels(state.value).set(1 if state is lifecycle else 0)
        if status is None:
            return
        self.budget_spent.clear()
        self.budget_calls.clear()
        self.rate_tokens.clear()
        for agent in _entries(status.get("agents")):
            agent_id = str(agent.get("agent_id"))
            for budget in _entries(agent.get("budgets")):
                if budget.get("session_id") is not None:
                    continue
                labels = (agent_id, str(budget.get("budget_id")))
                spent_usd, calls = _number(budget.get("spent_usd")), \
                    _number(budget.get("spent_calls"))
                if spent_usd is not None:
                    self.budget_spent.labels(*labels).set(spent_usd)
                if calls is not None:
                    self.budget_calls.labels(*labels).set(calls)
            for limit in _entries(agent.get("rate_limits")):
                tokens = _number(limit.get("tokens"))
                if tokens is not None:
                    self.rate_tokens.labels(agent_id, str(limit.get("pattern"))).set(tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _entries(value: object) -> list[Mapping[str, Any]]:
    return [e for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]  # numbers and decimal strings
    except (TypeError, ValueError):
        return None


# --- OpenTelemetry (optional extra) ------------------------------------------------

def _otel() -> tuple[Any, Any] | None:
    """The OpenTelemetry trace API and our tracer when installed, else None (looked up
    once, at start: a daemon without the extra pays nothing per decision)."""
    try:
        trace = importlib.import_module("opentelemetry.trace")
    except ImportError:
        return None
    return trace, trace.get_tracer("faramesh")


def _record_span(trace: Any, tracer: Any, outcome: Outcome) -> None:
    """One `faramesh.decide` span per decision, written after the fact from the measured
    latencies, with one child span per stage named for the stage. Nothing while no
    tracer provider is configured (the API's default): no-op spans still cost time."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    decision = outcome.decision
    end_ns = time.time_ns()
    start_ns = end_ns - int(outcome.latency_us * 1000)
    attributes = {"faramesh.action_id": outcome.action_id,
                  "faramesh.agent_id": decision.agent_id or "",
                  "faramesh.tool": decision.tool or "",
                  "faramesh.effect": outcome.effect.value,
                  "faramesh.code": decision.code.value,
                  "faramesh.rule_ref": decision.rule_ref or "",
                  "faramesh.mode": outcome.mode}
    span = tracer.start_span("faramesh.decide", start_time=start_ns, attributes=attributes)
    context = trace.set_span_in_context(span)
    at = start_ns
    for stage, latency_ns in outcome.stage_latency_ns.items():
        tracer.start_span(stage, context=context, start_time=at).end(end_time=at + latency_ns)
        at += latency_ns
    span.end(end_time=end_ns)
