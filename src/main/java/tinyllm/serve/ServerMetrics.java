package tinyllm.serve;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * The server's metrics, scraped at {@code GET /metrics} in Prometheus' text format (Micrometer's Prometheus
 * registry): requests by HTTP status, queue depth, running sequences, tokens, and latency histograms.
 */
final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    final Counter generatedTokens = Counter.builder("tinyllm.tokens.generated").description("New tokens emitted to clients").register(registry);
    final Counter promptTokens = Counter.builder("tinyllm.tokens.prompt").description("Prompt tokens admitted").register(registry);
    final Timer timeToFirstToken = latency("tinyllm.time.to.first.token", "From the request's arrival to its first new token",
            Duration.ofMillis(5), Duration.ofSeconds(60));
    final Timer interTokenLatency = latency("tinyllm.inter.token.latency", "Between two new tokens of one request",
            Duration.ofMillis(1), Duration.ofSeconds(10));
    final Timer stepDuration = latency("tinyllm.step.duration", "One engine step: the forward pass over every queued row and the choices",
            Duration.ofMillis(1), Duration.ofSeconds(10));

    void watch(Supplier<Number> queueDepth, Supplier<Number> running) {
        Gauge.builder("tinyllm.queue.depth", queueDepth).description("Requests waiting for a sequence slot").register(registry);
        Gauge.builder("tinyllm.sequences.running", running).description("Requests holding a sequence slot").register(registry);
    }

    void request(int status) {
        Counter.builder("tinyllm.requests").tag("status", Integer.toString(status)).description("HTTP requests answered, by status")
                .register(registry).increment();
    }

    static void record(Timer timer, long nanos) {
        timer.record(nanos, TimeUnit.NANOSECONDS);
    }

    String scrape() {
        return registry.scrape();
    }

    private Timer latency(String name, String description, Duration min, Duration max) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(min).maximumExpectedValue(max).register(registry);
    }
}
