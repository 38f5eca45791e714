import Foundation
import Engine
import Metering
import Serving
import Upstream

extension APIServer {
    /// `/metrics` in Prometheus' text format: the engine's counters and
    /// histograms, and responses by route and status.
    func metricsText() -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP wafer_\(name) \(help)\n# TYPE wafer_\(name) \(type)\n"
            for s in samples { out += "wafer_\(name)\(s.labels) \(s.value)\n" }
        }
        func histogram(_ name: String, _ help: String, _ h: LatencyHistogram) {
            // Every third bound (about ×2 apart) keeps the exposition short; counts are cumulative.
            var samples: [(String, String)] = []
            var cumulative = 0, index = 0
            for (i, bound) in LatencyHistogram.bounds.enumerated() {
                while index <= i { cumulative += h.counts[index]; index += 1 }
                if i % 3 == 0 { samples.append(("{le=\"\(bound)\"}", "\(cumulative)")) }
            }
            out += "# HELP wafer_\(name) \(help)\n# TYPE wafer_\(name) histogram\n"
            for (labels, value) in samples { out += "wafer_\(name)_bucket\(labels) \(value)\n" }
            out += "wafer_\(name)_bucket{le=\"+Inf\"} \(h.count)\nwafer_\(name)_sum \(h.sum)\nwafer_\(name)_count \(h.count)\n"
        }
        out += "# HELP wafer_up 1 when the model is loaded and the engine runs.\n# TYPE wafer_up gauge\nwafer_up \(service.model == nil ? 0 : 1)\n"
        out += "# HELP wafer_kernels_info The instruction set the integer kernels run with (chosen from cpuid at start-up).\n"
        out += "# TYPE wafer_kernels_info gauge\nwafer_kernels_info{isa=\"\(Engine.instructionSet)\"} 1\n"
        if let ledger = meter?.ledger {
            let up = ledger.state == .ok ? 1 : 0
            out += "# HELP wafer_ledger_up 1 when the ledger takes writes; 0 while it fails (requests are refused).\n"
            out += "# TYPE wafer_ledger_up gauge\nwafer_ledger_up \(up)\n"
        }
        if let m = service.model?.engine.metrics() {
            histogram("time_to_first_token_seconds", "Submission to first generated token.", m.timeToFirstToken)
            histogram("inter_token_latency_seconds", "Time between consecutive tokens of a sequence.", m.interTokenLatency)
            histogram("request_latency_seconds", "Submission to the end of a request.", m.requestLatency)
            metric("prompt_tokens_total", "counter", "Prompt tokens submitted.", [("", "\(m.promptTokens)")])
            metric("prompt_tokens_cached_total", "counter", "Prompt positions copied from the prefix cache.", [("", "\(m.cachedPromptTokens)")])
            metric("generated_tokens_total", "counter", "Tokens generated.", [("", "\(m.generatedTokens)")])
            metric("requests_finished_total", "counter", "Engine requests finished, by finish reason.",
                   m.finishedRequests.sorted { $0.key < $1.key }.map { ("{finish_reason=\"\($0.key)\"}", "\($0.value)") })
            metric("engine_steps_total", "counter", "Forward steps run.", [("", "\(m.steps)")])
            metric("engine_step_sequences_total", "counter", "Sequences computed, summed over steps (÷ steps = mean batch).",
                   [("", "\(m.stepSequences)")])
            metric("active_sequences", "gauge", "Sequences in the running batch.", [("", "\(m.activeSequences)")])
            metric("queued_sequences", "gauge", "Sequences waiting for a batch slot.", [("", "\(m.queuedSequences)")])
            metric("prefix_cache_entries", "gauge", "Prompt heads kept in the prefix cache.", [("", "\(m.prefixCacheEntries)")])
            metric("prefix_cache_tokens", "gauge", "KV positions held by the prefix cache.", [("", "\(m.prefixCacheTokens)")])
        }
        let routes = service.routeMetrics
        metric("requests_by_route_total", "counter", "Generation requests answered, by where they were served.",
               ServedBy.allCases.map { ("{route=\"\($0.rawValue)\"}", "\(routes.requests[$0] ?? 0)") })
        metric("tokens_by_route_total", "counter", "Tokens billed (prompt + completion), by where they were served.",
               ServedBy.allCases.map { ("{route=\"\($0.rawValue)\"}", "\(routes.tokens[$0] ?? 0)") })
        if service.overflow != nil {
            metric("upstream_errors_total", "counter", "Upstream calls that failed, by kind.",
                   UpstreamError.Kind.allCases.map { ("{kind=\"\($0.rawValue)\"}", "\(routes.upstreamErrors[$0.rawValue] ?? 0)") })
            histogram("upstream_first_event_seconds", "Upstream call to its first streamed event.", routes.upstreamFirstEvent)
        }
        let counts = responseCounts.sorted { $0.key < $1.key }.map { key, value in
            let parts = key.split(separator: " ")
            return ("{route=\"\(parts[0])\",status=\"\(parts[1])\"}", "\(value)")
        }
        metric("http_responses_total", "counter", "HTTP responses, by route and status.", counts)
        return out
    }
}
