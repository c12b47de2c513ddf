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
    /// Makes the scheduler that runs a job when Run now is pressed.
    let makeScheduler: @Sendable (StateStore) -> Scheduler
    /// Each dictionary's lag behind the source, for /metrics.
    let lags: (@Sendable () -> [LagProbe.Lag])?

    package init(
        stateConfig: ConnectionConfig, token: String?, lags: (@Sendable () -> [LagProbe.Lag])? = nil,
        makeScheduler: @escaping @Sendable (StateStore) -> Scheduler
    ) {
        self.stateConfig = stateConfig
        self.token = token
        self.lags = lags
        self.makeScheduler = makeScheduler
    }

    var sessionValue: String? { token.map { KeyedDigest.hex(key: $0, message: "breakout dashboard session") } }
    var csrfValue: String? { token.map { KeyedDigest.hex(key: $0, message: "breakout dashboard csrf") } }

    func signedIn(_ request: Request) -> Bool {
        guard let expected = sessionValue else { return false }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer "), let token {
            return KeyedDigest.same(String(auth.dropFirst(7)), token)
        }
        for part in (request.headers[.cookie] ?? "").split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == "breakout_session", KeyedDigest.same(String(kv[1]), expected) { return true }
        }
        return false
    }

    /// A store per request; one that reconnects, so a Run now outlives a restart of the store.
    func store() throws -> StateStore {
        let config = stateConfig
        return try StateStore(connect: { try Databases.connect(config) })
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

    package func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            do {
                let s = try self.store()
                defer { s.connection.close() }
                _ = try s.version()
                return Self.text("ok\n")
            } catch {
                return Self.text("state store unreachable: \(error)\n", .serviceUnavailable)
            }
        }
        router.get("/") { request, _ -> Response in
            let s = try self.store()
            defer { s.connection.close() }
            let csrf = self.signedIn(request) ? self.csrfValue : nil
            return Self.html(Pages.overview(try DashboardData(s), csrf: csrf))
        }
        router.get("/org/:org") { request, context -> Response in
            let name = context.parameters.get("org") ?? ""
            let s = try self.store()
            defer { s.connection.close() }
            let data = try DashboardData(s)
            guard let org = data.organizations.first(where: { $0.name == name }) else {
                return Self.html(Pages.page("Not found", "<p>No organization \(Pages.e(name)).</p>", signedIn: false), .notFound)
            }
            return Self.html(Pages.organization(data, org, csrf: self.signedIn(request) ? self.csrfValue : nil))
        }
        router.get("/org/:org/jobs/:job") { request, context -> Response in
            let (orgName, jobName) = (context.parameters.get("org") ?? "", context.parameters.get("job") ?? "")
            let s = try self.store()
            defer { s.connection.close() }
            let data = try DashboardData(s)
            guard let job = data.jobs.first(where: { $0.organization == orgName && $0.name == jobName }) else {
                // A job an apply deleted: its history stays readable.
                let runs = try DashboardData.runs(s, names: (orgName, jobName), limit: 50)
                if !runs.isEmpty { return Self.html(Pages.deletedJob(orgName, jobName, runs: runs)) }
                return Self.html(
                    Pages.page("Not found", "<p>No job \(Pages.e(orgName))/\(Pages.e(jobName)).</p>", signedIn: false), .notFound)
            }
            return Self.html(
                Pages.job(job, runs: try DashboardData.runs(s, jobID: job.id), csrf: self.signedIn(request) ? self.csrfValue : nil))
        }
        router.get("/runs/:id") { _, context -> Response in
            let id = Int64(context.parameters.get("id") ?? "") ?? -1
            let s = try self.store()
            defer { s.connection.close() }
            guard let run = try DashboardData.runs(s, id: id, limit: 1).first else {
                return Self.html(Pages.page("Not found", "<p>No run \(id).</p>", signedIn: false), .notFound)
            }
            return Self.html(Pages.run(run, job: try DashboardData(s).jobs.first { $0.id == run.jobID }))
        }
        router.get("/login") { _, _ -> Response in
            Self.html(Pages.login(error: false))
        }
        router.post("/login") { request, _ -> Response in
            let form = try await Self.form(request)
            guard let token = self.token, let given = form["token"], KeyedDigest.same(given, token), let session = self.sessionValue else {
                return Self.html(Pages.login(error: true), .forbidden)
            }
            return Response(
                status: .seeOther, headers: [.location: "/", .setCookie: "breakout_session=\(session); Path=/; HttpOnly; SameSite=Strict"])
        }
        router.post("/org/:org/jobs/:job/run") { request, context -> Response in
            let (orgName, jobName) = (context.parameters.get("org") ?? "", context.parameters.get("job") ?? "")
            let form = try await Self.form(request)
            let bearer = request.headers[.authorization]?.hasPrefix("Bearer ") == true
            guard self.signedIn(request), let csrf = self.csrfValue, bearer || KeyedDigest.same(form["csrf"] ?? "", csrf) else {
                return Self.html(
                    Pages.page(
                        "Forbidden", "<p>Run now needs the dashboard token (sign in) and a form from this dashboard.</p>", signedIn: false),
                    .forbidden)
            }
            return try self.runNow(orgName, jobName)
        }
        router.get("/api/status") { _, _ -> Response in
            let s = try self.store()
            defer { s.connection.close() }
            return Self.text(try Self.statusJSON(try DashboardData(s)), type: "application/json")
        }
        router.get("/api/runs/:id") { _, context -> Response in
            let s = try self.store()
            defer { s.connection.close() }
            guard let run = try DashboardData.runs(s, id: Int64(context.parameters.get("id") ?? "") ?? -1, limit: 1).first else {
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
        router.get("/metrics") { _, _ -> Response in
            let s = try self.store()
            defer { s.connection.close() }
            return Self.text(try Metrics.text(s, lags: self.lags?() ?? []), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        return router
    }

    func runNow(_ orgName: String, _ jobName: String) throws -> Response {
        let s = try store()
        let data = try DashboardData(s)
        guard let job = data.jobs.first(where: { $0.organization == orgName && $0.name == jobName }),
            let row = data.snapshot.jobs.first(where: { $0.id == job.id })
        else {
            s.connection.close()
            return Self.html(Pages.page("Not found", "<p>No job \(Pages.e(orgName))/\(Pages.e(jobName)).</p>", signedIn: true), .notFound)
        }
        if job.running {
            s.connection.close()
            return Self.html(
                Pages.page(
                    "Already running",
                    "<p>\(Pages.e(orgName))/\(Pages.e(jobName)) is running on \(Pages.e(job.runner ?? "?")); it was not started again.</p>",
                    signedIn: true), .conflict)
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

    /// Serves until the task is cancelled.
    package func run(host: String, port: Int, logger: Logger) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port)), logger: logger)
        try await app.runService()
    }
}

/// `@unchecked`: a `DispatchSemaphore` is thread-safe, but not marked `Sendable` on Linux.
final class StartedBox: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait(timeout: Double) { _ = semaphore.wait(timeout: .now() + timeout) }
}
