import Foundation
import Logging

/// Log lines on stderr, as text (`2026-11-29T02:00:01Z info ansd/breakout-quotidien run=42: …`) or
/// as one JSON object per line with the metadata as fields (`organization`, `job`, `run_id`, …).
/// Messages are built by breakout itself and never carry secrets.
package struct LineLogHandler: LogHandler {
    package enum Format: String, Sendable, CaseIterable { case text, json }

    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level
    let label: String
    let format: Format
    let sink: @Sendable (String) -> Void

    package init(
        label: String, format: Format, level: Logger.Level,
        sink: @escaping @Sendable (String) -> Void = { StandardStream.error($0 + "\n") }
    ) {
        self.label = label
        self.format = format
        logLevel = level
        self.sink = sink
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = ISO8601DateFormatter().string(from: Date())
        switch format {
        case .json:
            var object: [String: Any] = [
                "time": time, "level": event.level.rawValue, "message": event.message.description, "logger": label,
            ]
            for (k, v) in all { object[k] = "\(v)" }
            // The object holds only strings; a log line that cannot be encoded is dropped rather than crash the
            // logger.
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                sink(String(decoding: data, as: UTF8.self))
            }
        case .text:
            var context = ""
            if let org = all["organization"], let job = all["job"] { context = " \(org)/\(job)" }
            if let run = all["run_id"] { context += " run=\(run)" }
            let rest = all.filter { !["organization", "job", "run_id"].contains($0.key) }.sorted { $0.key < $1.key }.map {
                "\($0.key)=\($0.value)"
            }
            sink(
                "\(time) \(event.level.rawValue)\(context): \(event.message)"
                    + (rest.isEmpty ? "" : " (" + rest.joined(separator: " ") + ")"))
        }
    }
}
