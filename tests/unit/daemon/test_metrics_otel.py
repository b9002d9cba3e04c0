"""OpenTelemetry spans (the `otel` extra; the SDK is a dev dependency so this runs), with
the real SDK and its in-memory exporter: one `faramesh.decide` span per decision, one
child span per stage that ran, in order."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import export
from opentelemetry.sdk.trace.export import in_memory_span_exporter as in_memory

from faramesh.daemon.metrics import Metrics
from tests.unit.pipeline.harness import Harness

POLICY = 'agent "bot" {\n  rules { permit files/read }\n}\n'


def test_each_decision_is_a_span_with_one_child_per_stage() -> None:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    metrics = Metrics()
    outcome = Harness(POLICY).decide("bot", "files/read")
    metrics.observe_decision(outcome)
    trace.set_tracer_provider(provider)
    try:
        metrics.observe_decision(outcome)
        spans = exporter.get_finished_spans()
    finally:
        provider.shutdown()  # later tests in this process record nothing
    [root] = [s for s in spans if s.name == "faramesh.decide"]
    children = [s for s in spans if s.parent is not None
                and s.parent.span_id == root.context.span_id]
    assert [s.name for s in children] == list(outcome.stage_latency_ns)
    assert root.attributes["faramesh.code"] == "RULE_PERMIT"
    assert root.attributes["faramesh.action_id"] == outcome.action_id
    assert all(root.start_time <= s.start_time <= s.end_time <= root.end_time
               for s in children)
