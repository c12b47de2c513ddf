import Config
import DatabaseDriver
import Foundation
import SQL
import Secrets
import State

/// Who applies, from where, and how long to wait for another apply.
package struct ApplyOptions: Sendable {
    package var lockTimeout: Double
    /// A lock older than this is taken over (its holder died).
    package var staleLockAfter: Double
    package var allowDestroy: Bool
    package var user: String
    package var host: String

    package init(
        lockTimeout: Double = 0, staleLockAfter: Double = 600, allowDestroy: Bool = false,
        user: String = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName,
        host: String = ProcessInfo.processInfo.hostName
    ) {
        self.lockTimeout = lockTimeout
        self.staleLockAfter = staleLockAfter
        self.allowDestroy = allowDestroy
        self.user = user
        self.host = host
    }

    var owner: String { "\(user)@\(host) pid \(ProcessInfo.processInfo.processIdentifier)" }
}

package struct ApplyResult: Sendable {
    package var plan: Plan
    package var migrated: [Int]
}

extension Reconciler {
    static let integerColumns: Set<String> = ["port", "is_default", "is_active", "threads", "max_cases_per_chunk"]

    func value(_ field: String, _ text: String?) -> SQLValue {
        guard let text else { return .null }
        if Self.integerColumns.contains(field), let n = Int64(text) { return .integer(n) }
        return .text(text)
    }

    /// A connection's password as the control tables keep it, bound to its organization.
    func encrypt(_ plaintext: String, organization: String) throws -> String {
        guard let key = stateKeys.primary else { throw SecretError.noKey }
        switch format {
        case .encV1: return try SecretValue.encrypt(plaintext, with: key, scope: .organization(organization))
        case .phpOpenSSL: return try PHPOpenSSLValue.encrypt(plaintext, with: key)
        }
    }

    /// Makes the control tables equal to the configuration: migrates them, takes the lock, plans
    /// again inside it (refusing a saved plan made against another state or config), and writes
    /// every change plus the apply log in one transaction.
    package func apply(saved: Plan? = nil, options: ApplyOptions, confirm: (Plan) throws -> Bool) throws -> ApplyResult? {
        let migrated = try store.migrate(owner: options.owner, timeout: options.lockTimeout, staleAfter: options.staleLockAfter)
        try store.acquireLock("apply", owner: options.owner, timeout: options.lockTimeout, staleAfter: options.staleLockAfter)
        defer { store.releaseLock("apply", owner: options.owner) }
        let plan = try self.plan()
        if let saved {
            guard (1...Plan.currentFormat).contains(saved.formatVersion) else {
                throw StateError(
                    "the saved plan has format_version \(saved.formatVersion); this breakout reads 1 to \(Plan.currentFormat)")
            }
            if saved.stateDigest != plan.stateDigest {
                throw StateError(
                    "the control tables changed since this plan was made (state \(saved.stateDigest), now \(plan.stateDigest))",
                    hint: "run `breakout plan --out FILE` again and review the new plan")
            }
            if saved.configDigest != plan.configDigest {
                throw StateError("the configuration changed since this plan was made", hint: "run `breakout plan --out FILE` again")
            }
        }
        if let destructive = plan.changes.first(where: \.destructive), !options.allowDestroy {
            throw StateError(
                "the plan deletes \(destructive.address): \(destructive.note ?? "its jobs have run history")",
                hint: "pass --allow-destroy if that is intended; run history in mt_job_runs is kept and `breakout logs` still reads it")
        }
        guard plan.hasChanges else { return ApplyResult(plan: plan, migrated: migrated) }
        guard try confirm(plan) else { return nil }
        let wanted = Dictionary(
            try desired().map { ("\($0.kind.rawValue)\u{0}\($0.organization)\u{0}\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        let c = store.connection
        let now = SQLValue.timestamp(Date())
        try c.transaction {
            if let pause = ProcessInfo.processInfo.environment["BREAKOUT_TEST_PAUSE_IN_APPLY"], let seconds = Double(pause) {
                Thread.sleep(forTimeInterval: seconds)  // tests: a window to kill an apply mid-transaction
            }
            var snapshot = try store.snapshot()
            func orgID(_ slug: String) throws -> Int64 {
                if let o = snapshot.organizations.first(where: { $0.name == slug }) { return o.id }
                snapshot = try store.snapshot()
                guard let o = snapshot.organizations.first(where: { $0.name == slug }) else {
                    throw StateError("organization \(slug) vanished during apply")
                }
                return o.id
            }
            func connectionID(_ org: Int64, _ name: String?) throws -> Int64? {
                guard let name else { return nil }
                if let x = snapshot.connections.first(where: { $0.organizationID == org && $0.name == name }) { return x.id }
                snapshot = try store.snapshot()
                return snapshot.connections.first { $0.organizationID == org && $0.name == name }?.id
            }
            func row(_ r: Reconciler.Resource, org: Int64?) throws -> [(String, SQLValue)] {
                var out: [(String, SQLValue)] = []
                switch r.kind {
                case .organization: out.append(("organization_name", .text(r.name)))
                case .connection: out += [("organization_id", .integer(org!)), ("connection_name", .text(r.name))]
                case .job: out += [("organization_id", .integer(org!)), ("job_name", .text(r.name))]
                }
                for (field, text) in r.fields {
                    if field == "connection" {
                        out.append(("db_connection_id", try connectionID(org!, text).map { .integer($0) } ?? .null))
                    } else {
                        out.append((field, value(field, text)))
                    }
                }
                if r.kind == .connection {
                    out.append(("password_encrypted", try r.password.map { .text(try encrypt($0, organization: r.organization)) } ?? .null))
                }
                return out
            }
            for change in plan.changes {
                let k = "\(change.kind.rawValue)\u{0}\(change.organization)\u{0}\(change.name)"
                let managed: ControlStatements.Managed =
                    change.kind == .organization ? .organization : change.kind == .connection ? .connection : .job
                // A connection's or job's change is scoped to its organization: if that cannot be
                // found, the apply fails (and rolls back) rather than touch a namesake elsewhere.
                let org = change.kind == .organization ? nil : try orgID(change.organization)
                switch change.action {
                case .create:
                    var values = try row(wanted[k]!, org: org)
                    values += [("managed_by", .text(Self.managedBy)), ("created_time", now), ("modified_time", now)]
                    try c.execute(ControlStatements.insert(managed, values: values))
                case .update, .adopt:
                    let r = wanted[k]!
                    let changed = Set(change.fields.map(\.field))
                    var values = try row(r, org: org).filter { column, _ in
                        changed.contains(column) || (column == "db_connection_id" && changed.contains("connection"))
                            || (column == "password_encrypted" && changed.contains("password_encrypted"))
                    }
                    if change.kind == .job, changed.contains("cron_expression") || changed.contains("time_zone") {
                        values.append(("next_run_at", .null))  // the runner computes it for the new schedule
                    }
                    values += [("managed_by", .text(Self.managedBy)), ("modified_time", now)]
                    // A `moved:` rename: the same row (id, run history, lease) takes the new name.
                    if change.movedFrom != nil {
                        values.append((change.kind == .job ? "job_name" : "connection_name", .text(change.name)))
                    }
                    try c.execute(
                        ControlStatements.update(managed, name: change.movedFrom ?? change.name, organization: org, values: values))
                    if change.kind == .job, let old = change.movedFrom,
                        let id = snapshot.jobs.first(where: { $0.organizationID == org && $0.name == old })?.id
                    {
                        try c.execute(ControlStatements.renameRuns(job: id, to: change.name))
                    }
                case .delete:
                    if change.kind == .organization {
                        let id = try orgID(change.organization)
                        let handMade =
                            snapshot.jobs.filter { $0.organizationID == id && $0.managedBy == nil }.map(\.name)
                            + snapshot.connections.filter { $0.organizationID == id && $0.managedBy == nil }.map(\.name)
                        if !handMade.isEmpty {
                            throw StateError(
                                "cannot delete organization \(change.organization): unmanaged rows still belong to it (\(handMade.joined(separator: ", ")))",
                                hint: "adopt them (breakout import) or delete them by hand first")
                        }
                    }
                    try c.execute(ControlStatements.delete(managed, name: change.name, organization: org))
                }
            }
            let after = try store.snapshot()
            let commit = gitCommit()
            try c.execute(
                ControlStatements.applyLogEntry(
                    at: now, user: options.user, host: options.host, configDigest: plan.configDigest, stateDigest: after.digest,
                    commit: commit, summary: plan.summaryLine))
        }
        return ApplyResult(plan: plan, migrated: migrated)
    }

    /// The config directory's git commit, when it is a git checkout.
    func gitCommit() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", configuration.directory, "rev-parse", "HEAD"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        // No git, or not a repository: the apply log records no commit.
        guard (try? process.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count == 40 ? text : nil
    }
}
