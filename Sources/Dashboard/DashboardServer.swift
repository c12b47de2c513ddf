import DatabaseDriver
import Drivers
import Foundation
import Hummingbird
import Logging
import Runner
import SQL
import Secrets
import State

/// `breakout serve`: the guide's dashboard as read-only pages over the control tables, plus Run now
/// for holders of `serve.token`, a JSON API, `/metrics` and `/healthz`.
package struct DashboardServer: Sendable {
    let stateConfig: ConnectionConfig
    let token: String?
    /// The Host names served (DNS rebinding); by default the listen host and the loopback names.
    let hosts: AllowedHosts
    let sessions = Sessions()
    let attempts = AttemptLimiter()
    /// Makes the scheduler that runs a job when Run now is pressed.
    let makeScheduler: @Sendable (StateStore) -> Scheduler
    /// Each dictionary's lag behind the source, for /metrics: measured in the background.
    let lags: LagCache?
    /// Where every handler's database work runs (never on the event loop).
    let pool = BlockingPool()

    package init(
        stateConfig: ConnectionConfig, token: String?, hosts: AllowedHosts, lags: LagCache? = nil,
        makeScheduler: @escaping @Sendable (StateStore) -> Scheduler
    ) {
        self.stateConfig = stateConfig
        self.token = token
        self.hosts = hosts
        self.lags = lags
        self.makeScheduler = makeScheduler
    }

    /// Who is asking: a browser session (its id), an API call with the token, or nobody.
    enum Caller {
        case session(String)
        case bearer
        case anonymous
        /// A wrong bearer token: refused, and counted against the client.
        case refused
    }

    func caller(_ request: Request, _ context: DashboardContext) -> Caller {
        guard let token else { return .anonymous }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") {
            if KeyedDigest.same(String(auth.dropFirst(7)), token) { return .bearer }
            attempts.failed(context.client)
            return .refused
        }
        if let id = Self.cookie(request, "breakout_session"), sessions.isValid(id) { return .session(id) }
        return .anonymous
    }

    /// The page language of a request (``Language/of(query:cookie:acceptLanguage:)``).
    static func language(_ request: Request) -> Language {
        Language.of(
            query: request.uri.queryParameters.get("lang"), cookie: cookie(request, "breakout_lang"),
            acceptLanguage: request.headers[.acceptLanguage])
    }

    static func cookie(_ request: Request, _ name: String) -> String? {
        for part in (request.headers[.cookie] ?? "").split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == name { return String(kv[1]) }
        }
        return nil
    }

    /// The form value that proves a POST comes from a page of this session.
    func csrf(_ caller: Caller) -> String? {
        guard case .session(let id) = caller, let token else { return nil }
        return KeyedDigest.hex(key: token, message: "breakout dashboard csrf \(id)")
    }

    /// 429 when the client used up its attempts; nil when it may go on.
    func tooManyAttempts(_ context: DashboardContext) -> Response? {
        guard let wait = attempts.retryAfter(context.client) else { return nil }
        var response = Self.text(
            "Too many failed sign-in or token attempts from \(context.client); try again in \(wait) s.\n", .tooManyRequests)
        response.headers[.retryAfter] = String(wait)
        return response
    }

    /// A store per request; one that reconnects, so a Run now outlives a restart of the store.
    func store() throws -> StateStore {
        let config = stateConfig
        return try StateStore(connect: { try Databases.connect(config) })
    }

    /// `body` on the blocking pool within `deadline` seconds; 503 when the databases do not answer
    /// in time or too many requests wait for them.
    /// Runs `body` on the pool; with `request`, its pages are rendered in the language it asks for.
    func blocking(
        _ request: Request? = nil, deadline: Double = 10, _ body: @escaping @Sendable () throws -> Response
    ) async throws -> Response {
        let language = request.map(Self.language) ?? .en
        do {
            return try await pool.run(deadline: deadline) { try Language.rendering(language, body) }
        } catch let busy as BlockingPool.Busy {
            return Self.text("\(busy)\n", .serviceUnavailable)
        }
    }

    static func html(_ s: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    static func text(_ s: String, _ status: HTTPResponse.Status = .ok, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        var out: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            if kv.count == 2 { out[kv[0]] = kv[1] }
        }
        return out
    }

    package func router() -> Router<DashboardContext> {
        let router = Router(context: DashboardContext.self)
        router.add(middleware: SafetyMiddleware(hosts: hosts))
        router.get("/live.js") { _, _ -> Response in
            var response = Self.text(Pages.live, type: "text/javascript; charset=utf-8")
            response.headers[.cacheControl] = "max-age=3600"
            return response
        }
        router.get("/style.css") { _, _ -> Response in
            var response = Self.text(Pages.style, type: "text/css; charset=utf-8")
            response.headers[.cacheControl] = "max-age=3600"
            return response
        }
        router.get("/healthz") { _, _ -> Response in
            try await self.blocking(deadline: 3) {
                do {
                    let s = try self.store()
                    defer { s.connection.close() }
                    _ = try s.version()
                    return Self.text("ok\n")
                } catch {
                    return Self.text("state store unreachable: \(error)\n", .serviceUnavailable)
                }
            }
        }
        router.get("/") { request, context -> Response in
            let csrf = self.csrf(self.caller(request, context))
            return try await self.blocking(request) {
                let s = try self.store()
                defer { s.connection.close() }
                return Self.html(Pages.overview(try DashboardData(s), csrf: csrf))
            }
        }
        router.get("/org/:org") { request, context -> Response in
            let name = context.parameter("org")
            let csrf = self.csrf(self.caller(request, context))
            let (lags, age) = self.lags?.current ?? ([], nil)
            return try await self.blocking(request) {
                let s = try self.store()
                defer { s.connection.close() }
                let data = try DashboardData(s)
                guard let org = data.organizations.first(where: { $0.name == name }) else {
                    return Self.html(
                        Pages.page(
                            tr("Not found", "Introuvable"), "<p>\(tr("No organization", "Aucune organisation")) \(Pages.e(name)).</p>",
                            csrf: nil), .notFound)
                }
                return Self.html(Pages.organization(data, org, csrf: csrf, lags: lags, lagAge: age))
            }
        }
        router.get("/org/:org/jobs/:job") { request, context -> Response in
            let (orgName, jobName) = (context.parameter("org"), context.parameter("job"))
            let csrf = self.csrf(self.caller(request, context))
            return try await self.blocking(request) {
                let s = try self.store()
                defer { s.connection.close() }
                let data = try DashboardData(s)
                guard let job = data.jobs.first(where: { $0.organization == orgName && $0.name == jobName }) else {
                    // A job an apply deleted: its history stays readable.
                    let runs = try DashboardData.runs(s, names: (orgName, jobName), limit: 50)
                    if !runs.isEmpty { return Self.html(Pages.deletedJob(orgName, jobName, runs: runs)) }
                    return Self.html(
                        Pages.page(
                            tr("Not found", "Introuvable"),
                            "<p>\(tr("No job", "Aucune tâche")) \(Pages.e(orgName))/\(Pages.e(jobName)).</p>", csrf: nil), .notFound)
                }
                return Self.html(Pages.job(job, runs: try DashboardData.runs(s, jobID: job.id), csrf: csrf))
            }
        }
        router.get("/runs/:id") { request, context -> Response in
            let id = Int64(context.parameters.get("id") ?? "") ?? -1
            return try await self.blocking(request) {
                let s = try self.store()
                defer { s.connection.close() }
                guard let run = try DashboardData.runs(s, id: id, limit: 1).first else {
                    return Self.html(
                        Pages.page(tr("Not found", "Introuvable"), "<p>\(tr("No run", "Aucune exécution")) \(id).</p>", csrf: nil),
                        .notFound)
                }
                return Self.html(Pages.run(run, job: try DashboardData(s).jobs.first { $0.id == run.jobID }))
            }
        }
        router.get("/login") { request, _ -> Response in
            Language.rendering(Self.language(request)) { Self.html(Pages.login(error: false)) }
        }
        router.post("/login") { request, context -> Response in
            if let refused = self.tooManyAttempts(context) { return refused }
            let form = try await Self.form(request)
            guard let token = self.token, let given = form["token"], KeyedDigest.same(given, token) else {
                self.attempts.failed(context.client)
                return Language.rendering(Self.language(request)) { Self.html(Pages.login(error: true), .forbidden) }
            }
            let id = self.sessions.start()
            return Response(
                status: .seeOther,
                headers: [
                    .location: "/",
                    .setCookie: "breakout_session=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(self.sessions.lifetime))",
                ])
        }
        router.post("/logout") { request, context -> Response in
            let form = try await Self.form(request)
            let caller = self.caller(request, context)
            if case .session(let id) = caller, let csrf = self.csrf(caller), KeyedDigest.same(form["csrf"] ?? "", csrf) {
                self.sessions.end(id)
            }
            return Response(
                status: .seeOther, headers: [.location: "/", .setCookie: "breakout_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"])
        }
        router.post("/org/:org/jobs/:job/run") { request, context -> Response in
            if let refused = self.tooManyAttempts(context) { return refused }
            let (orgName, jobName) = (context.parameter("org"), context.parameter("job"))
            let form = try await Self.form(request)
            let caller = self.caller(request, context)
            let allowed: Bool
            switch caller {
            case .bearer: allowed = true
            case .session: allowed = self.csrf(caller).map { KeyedDigest.same(form["csrf"] ?? "", $0) } ?? false
            case .anonymous, .refused: allowed = false
            }
            guard allowed else {
                return Language.rendering(Self.language(request)) {
                    Self.html(
                        Pages.page(
                            tr("Forbidden", "Refusé"),
                            tr(
                                "<p>Run now needs the dashboard token (sign in) and a form from this dashboard.</p>",
                                "<p>Lancer maintenant demande le jeton du tableau de bord (connexion) et un formulaire de ce tableau de bord.</p>"
                            ),
                            csrf: nil),
                        .forbidden)
                }
            }
            return try await self.blocking(request, deadline: 15) { try self.runNow(orgName, jobName) }
        }
        router.get("/api/status") { _, _ -> Response in
            try await self.blocking {
                let s = try self.store()
                defer { s.connection.close() }
                return Self.text(try Self.statusJSON(try DashboardData(s)), type: "application/json")
            }
        }
        router.get("/api/runs/:id") { _, context -> Response in
            let id = Int64(context.parameters.get("id") ?? "") ?? -1
            return try await self.blocking { try Self.runJSON(self.store(), id: id) }
        }
        router.get("/metrics") { _, _ -> Response in
            let (lags, age) = self.lags?.current ?? ([], nil)
            return try await self.blocking {
                let s = try self.store()
                defer { s.connection.close() }
                return Self.text(try Metrics.text(s, lags: lags, lagAge: age), type: "text/plain; version=0.0.4; charset=utf-8")
            }
        }
        return router
    }

    static func runJSON(_ s: StateStore, id: Int64) throws -> Response {
        defer { s.connection.close() }
        guard let run = try DashboardData.runs(s, id: id, limit: 1).first else {
            return Self.text("{}", .notFound, type: "application/json")
        }
        let f = ISO8601DateFormatter()
        let object: [String: Any] = [
            "id": run.id, "job_id": run.jobID, "trigger": run.trigger, "status": run.status,
            "started_at": run.startedAt.map { f.string(from: $0) } ?? NSNull(),
            "finished_at": run.finishedAt.map { f.string(from: $0) } ?? NSNull(),
            "cases": run.cases ?? NSNull(), "rows": run.rows ?? NSNull(), "failed_cases": run.failedCases ?? NSNull(),
            "organization": run.organization ?? NSNull(), "job": run.job ?? NSNull(), "output": run.output,
        ]
        return Self.text(
            String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self),
            type: "application/json")
    }

    func runNow(_ orgName: String, _ jobName: String) throws -> Response {
        let s = try store()
        let data = try DashboardData(s)
        guard let job = data.jobs.first(where: { $0.organization == orgName && $0.name == jobName }),
            let row = data.snapshot.jobs.first(where: { $0.id == job.id })
        else {
            s.connection.close()
            return Self.html(
                Pages.page(
                    tr("Not found", "Introuvable"), "<p>\(tr("No job", "Aucune tâche")) \(Pages.e(orgName))/\(Pages.e(jobName)).</p>",
                    csrf: nil), .notFound)
        }
        if job.running {
            s.connection.close()
            return Self.html(
                Pages.page(
                    tr("Already running", "Déjà en cours"),
                    tr(
                        "<p>\(Pages.e(orgName))/\(Pages.e(jobName)) is running on \(Pages.e(job.runner ?? "?")); it was not started again.</p>",
                        "<p>\(Pages.e(orgName))/\(Pages.e(jobName)) tourne sur \(Pages.e(job.runner ?? "?")) ; elle n'a pas été relancée.</p>"
                    ),
                    csrf: nil), .conflict)
        }
        let scheduler = makeScheduler(s)
        let started = StartedBox()
        let thread = Thread {
            defer { scheduler.store.connection.close() }
            // Run now answers as soon as the run starts; a run that cannot start is recorded as a failed run, which
            // the page shows.
            _ = try? scheduler.runNow(row) { started.signal() }
            started.signal()
        }
        thread.start()
        started.wait(timeout: 10)  // the lease is taken before the page comes back
        return Response(status: .seeOther, headers: [.location: "/org/\(Pages.url(orgName))/jobs/\(Pages.url(jobName))"])
    }

    static func statusJSON(_ data: DashboardData) throws -> String {
        let f = ISO8601DateFormatter()
        let orgs: [[String: Any]] = data.organizations.map { o in
            [
                "organization": o.name, "name": o.displayName ?? o.name,
                "connections": data.snapshot.connections.filter { $0.organizationID == o.id }.count,
                "active_jobs": data.jobs.filter { $0.organization == o.name && $0.active }.count,
            ]
        }
        let jobs: [[String: Any]] = data.jobs.map { j in
            [
                "organization": j.organization, "job": j.name, "type": j.type, "schedule": j.schedule,
                "schedule_in_words": DashboardData.words(j.schedule, j.timeZone),
                "time_zone": j.timeZone, "active": j.active, "managed": j.managed, "running": j.running, "runner": j.runner ?? NSNull(),
                "progress": j.progress ?? NSNull(), "last_failed_cases": j.lastFailedCases ?? NSNull(),
                "overdue_since": j.overdueSince.map { f.string(from: $0) } ?? NSNull(),
                "last_run_at": j.lastRunAt.map { f.string(from: $0) } ?? NSNull(), "last_status": j.lastStatus ?? NSNull(),
                "next_run_at": j.nextRunAt.map { f.string(from: $0) } ?? NSNull(),
            ]
        }
        let runners: [[String: Any]] = data.liveness.runners.map { r in
            [
                "runner": r.name, "kind": r.kind, "pid": r.pid, "version": r.version,
                "last_tick_at": r.lastTickAt.map { f.string(from: $0) } ?? NSNull(),
                "clock_offset_seconds": Double(r.clockOffsetMilliseconds) / 1000, "late": r.isLate(at: data.now),
            ]
        }
        let object: [String: Any] = [
            "organizations": orgs, "jobs": jobs, "runners": runners, "warning": data.liveness.warning ?? NSNull(),
            "store_time": f.string(from: data.now),
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    }

    /// At most this many connections at once; the next is closed at once.
    static let maxConnections = 512
    /// Seconds a request's head may take to arrive.
    static let headerTimeout: Int64 = 10

    /// Serves until the task is cancelled.
    package func run(host: String, port: Int, logger: Logger) async throws {
        // A connection idle for 30 s is closed, one whose request head takes over 10 s too, and at
        // most 512 are open at once: slow or abandoned sockets do not pile up (ConnectionGuard).
        let open = ConnectionGuard.Count(limit: Self.maxConnections)
        let app = Application(
            router: router(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [ConnectionGuard(count: open, headerTimeout: .seconds(Self.headerTimeout))],
                    idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(host, port: port)), logger: logger)
        try await app.runService()
    }
}

/// `@unchecked`: a `DispatchSemaphore` is thread-safe, but not marked `Sendable` on Linux.
final class StartedBox: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait(timeout: Double) { _ = semaphore.wait(timeout: .now() + timeout) }
}
