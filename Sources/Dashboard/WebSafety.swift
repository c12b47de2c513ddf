import Foundation
import Hummingbird
import Secrets
import Synchronization

// What keeps the dashboard safe on a network: the Host names it answers to (DNS rebinding), the
// headers every response carries, sign-in and bearer attempts limited per client, and sessions
// that expire and can be ended.

/// The request context: Hummingbird's, plus the client's address (for the attempt limits).
package struct DashboardContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// The peer's IP address; behind a reverse proxy, the proxy's.
    let client: String

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// A path parameter, percent-decoded: names of any kind (`Breakout quotidien ANSD`, `é`) are
    /// percent-encoded in every link (``Pages/url(_:)``).
    func parameter(_ name: String) -> String {
        let raw = parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}

/// The Host names the dashboard answers to: `serve.allowed_hosts`, the host it listens on, and the
/// loopback names. A page served under any other name could be a DNS-rebinding attacker's, reading
/// every organization's pages from a browser inside the network.
package struct AllowedHosts: Sendable {
    let names: Set<String>

    package init(listenHost: String, configured: [String]) {
        var names: Set<String> = ["localhost", "127.0.0.1", "::1"]
        let listen = Self.hostname(listenHost)
        if !["", "0.0.0.0", "::", "*"].contains(listen) { names.insert(listen) }
        for name in configured { names.insert(Self.hostname(name)) }
        self.names = names
    }

    /// `Dash.Example:8080` → `dash.example`; `[::1]:8080` → `::1`.
    static func hostname(_ authority: String) -> String {
        let lower = authority.trimmingCharacters(in: .whitespaces).lowercased()
        if lower.hasPrefix("["), let close = lower.firstIndex(of: "]") {
            return String(lower[lower.index(after: lower.startIndex)..<close])
        }
        if lower.filter({ $0 == ":" }).count == 1, let colon = lower.firstIndex(of: ":") { return String(lower[..<colon]) }
        return lower
    }

    package func allows(_ authority: String?) -> Bool {
        guard let authority else { return false }
        return names.contains(Self.hostname(authority))
    }

    var listed: String { names.sorted().joined(separator: ", ") }
}

/// Refuses requests for other Host names and adds the security headers to every response.
struct SafetyMiddleware: RouterMiddleware {
    typealias Context = DashboardContext
    let hosts: AllowedHosts

    /// Styles only from the dashboard itself (/style.css), no script at all, no framing, forms only to
    /// the dashboard.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(
        _ request: Request, context: DashboardContext, next: (Request, DashboardContext) async throws -> Response
    ) async throws -> Response {
        var response: Response
        if hosts.allows(request.head.authority) {
            response = try await next(request, context)
        } else {
            let name = request.head.authority.map { "\"\($0)\"" } ?? "(none)"
            response = DashboardServer.text(
                "This dashboard does not answer to the host name \(name). It answers to: \(hosts.listed). "
                    + "Add the name to serve.allowed_hosts in breakout.yaml.\n", .misdirectedRequest)
        }
        // The language switch (`?lang=fr`, `?lang=en`) is remembered for a year.
        if let lang = request.uri.queryParameters.get("lang").flatMap(Language.init(rawValue:)) {
            response.headers[values: .setCookie].append("breakout_lang=\(lang.rawValue); Path=/; Max-Age=31536000; SameSite=Lax")
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// Failed sign-in and bearer attempts per client: after `limit` in `window` seconds, the client
/// waits until the window ends (429 with Retry-After). Memory is bounded: at most `maxClients`
/// clients are remembered.
package final class AttemptLimiter: Sendable {
    let limit: Int
    let window: Double
    let maxClients = 10_000
    private let state = Mutex<[String: (failures: Int, since: Date)]>([:])

    package init(limit: Int = 10, window: Double = 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds the client must wait before it may try again; nil when it may try now.
    package func retryAfter(_ client: String, now: Date = Date()) -> Int? {
        state.withLock { clients in
            guard let entry = clients[client] else { return nil }
            let left = window - now.timeIntervalSince(entry.since)
            if left <= 0 {
                clients[client] = nil
                return nil
            }
            return entry.failures >= limit ? Int(left.rounded(.up)) : nil
        }
    }

    package func failed(_ client: String, now: Date = Date()) {
        state.withLock { clients in
            if let entry = clients[client], now.timeIntervalSince(entry.since) < window {
                clients[client] = (entry.failures + 1, entry.since)
                return
            }
            if clients.count >= maxClients {
                clients = clients.filter { now.timeIntervalSince($0.value.since) < window }
                if clients.count >= maxClients, let oldest = clients.min(by: { $0.value.since < $1.value.since })?.key {
                    clients[oldest] = nil
                }
            }
            clients[client] = (1, now)
        }
    }
}

/// Signed-in browsers: a random session id per sign-in, valid for `lifetime` seconds or until
/// signed out. Kept in memory: restarting `serve` (which a new `serve.token` needs) signs everyone out.
package final class Sessions: Sendable {
    let lifetime: Double
    let maxSessions = 10_000
    private let state = Mutex<[String: Date]>([:])

    package init(lifetime: Double = 12 * 3600) { self.lifetime = lifetime }

    /// A new session; its id goes into the cookie.
    package func start(now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        state.withLock { sessions in
            if sessions.count >= maxSessions {
                sessions = sessions.filter { $0.value > now }
                if sessions.count >= maxSessions, let oldest = sessions.min(by: { $0.value < $1.value })?.key { sessions[oldest] = nil }
            }
            sessions[id] = now.addingTimeInterval(lifetime)
        }
        return id
    }

    package func isValid(_ id: String, now: Date = Date()) -> Bool {
        state.withLock { sessions in
            guard let expires = sessions[id] else { return false }
            if expires <= now {
                sessions[id] = nil
                return false
            }
            return true
        }
    }

    package func end(_ id: String) { _ = state.withLock { $0.removeValue(forKey: id) } }
}
