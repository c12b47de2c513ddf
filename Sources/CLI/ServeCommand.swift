import ArgumentParser
import Config
import Dashboard
import Foundation
import Logging
import Runner
import Synchronization

/// `breakout serve`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve the dashboard: overview, a page per organization, job and run, Run now (with serve.token), /api/status, /metrics, /healthz.",
        discussion: """
            Pages are server-rendered and work without JavaScript. Run now is shown and accepted only for a
            browser signed in with serve.token (breakout.yaml; an enc:v2 secret) and a form from the
            dashboard, or for an API call with "Authorization: Bearer <token>". Listen on loopback and put a
            TLS reverse proxy in front to expose it.
            """
    )

    @OptionGroup var config: ConfigOptions

    @Option(help: "HOST:PORT to listen on.")
    var listen: String = "127.0.0.1:8080"

    @Option(
        name: .customLong("lag-interval"),
        help: "Seconds between two measurements of each destination's lag (for /metrics; measured in the background).")
    var lagInterval: Double = 60

    @Option(
        name: .customLong("lag-timeout"),
        help: "Seconds to wait for one destination's lag before reporting it as not answering (the others are not held up).")
    var lagTimeout: Double = 10

    @OptionGroup var log: LogOptions

    func run() throws {
        try reportingErrors {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (1...65535).contains(port)
            else {
                throw CLIError("--listen \"\(listen)\" is not HOST:PORT", hint: "e.g. 127.0.0.1:8080")
            }
            let host = String(listen[..<colon])
            let runner = try RunnerAccess(config, log: log)
            let store = try runner.openStore()
            store.connection.close()
            let settings = runner.access.configuration.settings
            let token = try settings.serveToken.map { try runner.access.resolver.plaintext($0) }
            // validate checks an encrypted token; one from ${env:…} is only known here.
            if let token, token.count < ConfigLoader.minimumServeTokenLength {
                throw CLIError(
                    "serve.token is \(token.count) characters; the dashboard needs at least \(ConfigLoader.minimumServeTokenLength)",
                    hint: "make one with `openssl rand -base64 32` and put it in serve.token (encrypted, or ${env:…})")
            }
            let logger = log.logger()
            guard (0.1...3_600).contains(lagTimeout) else {
                throw CLIError("--lag-timeout must be between 0.1 and 3600 seconds, got \(lagTimeout)")
            }
            let probe = LagProbe(executor: runner.executor, timeout: lagTimeout)
            let hosts = AllowedHosts(listenHost: host, configured: settings.serveAllowedHosts)
            guard (0.1...86_400).contains(lagInterval) else {
                throw CLIError("--lag-interval must be between 0.1 and 86400 seconds, got \(lagInterval)")
            }
            let lags = LagCache(interval: lagInterval) { probe.lags() }
            let server = DashboardServer(stateConfig: runner.stateConfig, token: token, hosts: hosts, lags: lags) {
                store in runner.scheduler(store: store)
            }
            print("breakout dashboard on http://\(listen)/\(token == nil ? " (read-only: no serve.token in breakout.yaml)" : "")")
            let done = DispatchSemaphore(value: 0)
            let failure = ErrorBox()
            Task {
                do { try await server.run(host: host, port: port, logger: logger) } catch { failure.set(error) }
                done.signal()
            }
            done.wait()
            if let error = failure.error { throw CLIError("the dashboard stopped", cause: error) }
        }
    }
}

final class ErrorBox: Sendable {
    private let value = Mutex<(any Error)?>(nil)
    func set(_ e: any Error) { value.withLock { $0 = e } }
    var error: (any Error)? { value.withLock { $0 } }
}
