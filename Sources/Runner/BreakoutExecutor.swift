import Breakout
import Config
import DatabaseDriver
import Diagnostics
import Drivers
import Foundation
import Logging
import SQL
import Secrets
import State

/// Runs a job as the control tables describe it (managed and hand-made rows alike): its
/// organization, connection (`db_connection_id`, the command's `--connection`, or the
/// organization's default), dictionaries, threads, chunk size, include/exclude; the source from
/// breakout.yaml. Passwords are decrypted in memory with the state key.
package struct BreakoutExecutor: JobExecutor {
    let resolver: Resolver
    let stateKeys: Keyring
    let stateConfig: ConnectionConfig

    package init(resolver: Resolver, stateKeys: Keyring, stateConfig: ConnectionConfig) {
        self.resolver = resolver
        self.stateKeys = stateKeys
        self.stateConfig = stateConfig
    }

    /// Where and how a job row runs: its organization, destination, dictionaries and options.
    package struct JobTarget {
        package var organization: OrganizationRow
        package var connectionName: String
        package var engine: DatabaseEngine
        package var destination: ConnectionConfig
        package var dictionaries: [String]
        package var naming: Naming
        package var labelsLanguage: String?
        package var specials: SpecialValues
        package var selection: RecordSelection
        package var threads: Int
        package var chunk: Int
        var settings: JobSettings

        package var schemaOptions: SchemaOptions {
            SchemaOptions(naming: naming, selection: selection, labelsLanguage: labelsLanguage, specials: specials)
        }
    }

    /// How a connection's tables are shaped: its `naming:` and `labels_language:`.
    package struct DestinationLayout: Sendable {
        package var naming: Naming
        package var labelsLanguage: String?
        package var specials: SpecialValues
    }

    package func target(_ job: JobRow) throws -> JobTarget {
        let store = StateStore(connection: try Databases.connect(stateConfig))
        defer { store.connection.close() }
        let snapshot = try store.snapshot()
        guard let org = snapshot.organizations.first(where: { $0.id == job.organizationID }) else {
            throw StateError("job \(job.name): organization \(job.organizationID) does not exist")
        }
        var command: JobCommand?
        if let line = job.command, !line.isEmpty {
            guard let parsed = JobCommand.parse(line) else {
                throw StateError(
                    "job \(org.name)/\(job.name): cannot run the command \"\(line)\": it is not `breakout process-cases …` or CSWeb's `csweb:process-cases[-by-dict] [--threads=N] [--maxCasesPerChunk=M] [DICT …]`"
                )
            }
            command = parsed
        }
        // Ownership is checked here, at run time, for managed and hand-made rows alike: a row
        // written by hand cannot point a job at another organization's connection or dictionary.
        let connections = snapshot.connections.filter { $0.organizationID == org.id }
        let connection: ConnectionRow?
        if let id = job.connectionID {
            guard let own = connections.first(where: { $0.id == id }) else {
                let owner = snapshot.connections.first { $0.id == id }.flatMap { c in
                    snapshot.organizations.first { $0.id == c.organizationID }
                }
                throw StateError(
                    "job \(org.name)/\(job.name): its db_connection_id \(id) "
                        + (owner.map { "belongs to organization \($0.name), not to \(org.name)" } ?? "does not exist")
                        + "; the run is refused",
                    hint: "point the job at one of \(org.name)'s connections (\(connections.map(\.name).joined(separator: ", ")))")
            }
            connection = own
        } else if let name = command?.connection {
            guard let own = connections.first(where: { $0.name == name }) else {
                throw StateError(
                    "job \(org.name)/\(job.name): its command names connection \(name), which is not one of \(org.name)'s; the run is refused",
                    hint: "\(org.name)'s connections: \(connections.map(\.name).joined(separator: ", "))")
            }
            connection = own
        } else {
            connection = connections.first { $0.isDefault } ?? (connections.count == 1 ? connections.first : nil)
        }
        guard let connection else {
            throw StateError("job \(org.name)/\(job.name): no connection (none set and the organization has no default)")
        }
        let (engine, destination, layout) = try destination(connection, of: org, in: snapshot, for: "job \(org.name)/\(job.name)")
        // The job's own list, else its command line's, else every dictionary of the organization.
        let dictionaries =
            [StoredValue.list(job.dictionaries), command?.dictionaries ?? [], StoredValue.list(org.dictionaries)].first { !$0.isEmpty }
            ?? []
        guard !dictionaries.isEmpty else {
            throw StateError("job \(org.name)/\(job.name): no dictionaries (the job and its organization name none)")
        }
        let owned = Set(StoredValue.list(org.dictionaries))
        for dictionary in dictionaries {
            guard owned.contains(dictionary) else {
                let owners = snapshot.organizations.filter { StoredValue.list($0.dictionaries).contains(dictionary) }.map(\.name)
                throw StateError(
                    "job \(org.name)/\(job.name): dictionary \(dictionary) is not owned by \(org.name)"
                        + (owners.isEmpty ? "" : " (it belongs to \(owners.joined(separator: ", ")))") + "; the run is refused",
                    hint: "list it under `dictionaries:` in organizations/\(org.name).yaml if \(org.name) owns it, and apply")
            }
            let others = snapshot.organizations.filter { $0.id != org.id && StoredValue.list($0.dictionaries).contains(dictionary) }.map(
                \.name)
            guard others.isEmpty else {
                throw StateError(
                    "job \(org.name)/\(job.name): dictionary \(dictionary) is claimed by \(org.name) and by \(others.joined(separator: ", ")); "
                        + "a dictionary has one owner, so the run is refused",
                    hint: "remove the extra claim from mt_organizations (apply does this for managed rows)")
            }
        }
        let settings = job.jobSettings
        let selection = RecordSelection(include: settings.include, exclude: settings.exclude)
        let threads = job.threads.map(Int.init) ?? command?.threads ?? resolver.configuration.settings.defaults.threads
        let chunk =
            job.maxCasesPerChunk.map(Int.init) ?? command?.maxCasesPerChunk ?? resolver.configuration.settings.defaults.maxCasesPerChunk
        return JobTarget(
            organization: org, connectionName: connection.name, engine: engine, destination: destination, dictionaries: dictionaries,
            naming: layout.naming, labelsLanguage: layout.labelsLanguage, specials: layout.specials, selection: selection, threads: threads,
            chunk: chunk,
            settings: settings)
    }

    /// An applied connection row as the runner connects to it, after the checks that hold for
    /// hand-made rows too: a known engine, a host tenant_hosts allows, a destination no other
    /// organization declares, a password bound to this organization, options from the allow-list
    /// and SQLite files inside its data folder. `what` starts the messages (`job ansd/daily`).
    package func destination(
        _ connection: ConnectionRow, of org: OrganizationRow, in snapshot: StateSnapshot, for what: String,
        refusing: String = "the run is refused"
    ) throws -> (DatabaseEngine, ConnectionConfig, DestinationLayout) {
        guard let engine = DatabaseEngine(name: connection.dbType) else {
            throw StateError("connection \(org.name)/\(connection.name): unknown db_type \(connection.dbType)")
        }
        if !engine.isEmbedded, !TenantPolicy.hostAllowed(connection.host, resolver.configuration.settings.tenantHosts) {
            throw StateError(
                "\(what): connection \(connection.name) targets host \(connection.host ?? "localhost"), which tenant_hosts in "
                    + "breakout.yaml does not allow; \(refusing)")
        }
        // Two organizations never share a server destination, hand-made rows included.
        let key = TenantPolicy.destinationKey(
            engine: engine, host: connection.host, port: connection.port.map(Int.init), database: connection.database ?? "")
        if let key,
            let other = snapshot.connections.first(where: { c in
                c.organizationID != org.id
                    && DatabaseEngine(name: c.dbType).flatMap {
                        TenantPolicy.destinationKey(engine: $0, host: c.host, port: c.port.map(Int.init), database: c.database ?? "")
                    } == key
            })
        {
            let owner = snapshot.organizations.first { $0.id == other.organizationID }?.name ?? "#\(other.organizationID)"
            throw StateError(
                "\(what): connection \(connection.name) is the destination of \(owner)'s connection \(other.name) (\(key)); "
                    + "two organizations never share a destination, so \(refusing)",
                hint: "give \(org.name) its own database")
        }
        var password: String?
        if let stored = connection.passwordEncrypted, !stored.isEmpty {
            // Bound to its organization: a value copied from another organization's row does not decrypt.
            password = try StoredSecret.decrypt(stored, with: stateKeys, organization: org.name)
        }
        var options = StoredValue.strings(connection.options)
        let naming: Naming = options.removeValue(forKey: "naming") == "sql" ? .sql : .csweb
        let labelsLanguage = options.removeValue(forKey: "labels_language")
        // A hand-made row's unknown value is refused, not read as the default.
        let specials = try options.removeValue(forKey: "specials").map { value in
            guard let parsed = SpecialValues(rawValue: value) else {
                throw StateError(
                    "\(what): connection \(connection.name) has specials \"\(value)\"; expected null, codes or columns; \(refusing)")
            }
            return parsed
        }
        // The row may have been written by hand: the same allow-list and data folder as validate.
        options = try resolver.organizationOptions(org.name, engine: engine, options)
        let database = engine.isEmbedded ? try resolver.organizationPath(org.name, connection.database ?? "") : (connection.database ?? "")
        let destination = ConnectionConfig(
            engine: engine, host: connection.host, port: connection.port.map(Int.init) ?? engine.defaultPort,
            database: database, user: connection.username, password: password, options: options)
        return (engine, destination, DestinationLayout(naming: naming, labelsLanguage: labelsLanguage, specials: specials ?? .null))
    }

    package func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome {
        execute(job, logger: logger, progress: { _ in }, stop: stop)
    }

    package func execute(
        _ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool
    ) -> JobOutcome {
        do {
            return try run(job, logger: logger, progress: progress, stop: stop)
        } catch {
            return JobOutcome(status: .failed, output: UserFacing.text(error))
        }
    }

    func run(
        _ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool
    ) throws -> JobOutcome {
        guard let kind = job.kind else {
            throw StateError(
                "job \(job.name): unknown job type \"\(job.jobType)\"; expected "
                    + JobKind.allCases.map(\.rawValue).joined(separator: " or "))
        }
        let t = try target(job)
        let (org, engine, destination, dictionaries, threads, chunk, settings) =
            (t.organization, t.engine, t.destination, t.dictionaries, t.threads, t.chunk, t.settings)
        let sources = try SourceOpener(resolver: resolver)
        if kind == .export {
            guard let output = settings.output else {
                throw StateError("export job \(org.name)/\(job.name) has no output folder in its settings")
            }
            let folder = URL(fileURLWithPath: try resolver.organizationPath(org.name, output))
            // A hand-made row's unknown format is refused, not skipped.
            let formats = try settings.formats.map { name in
                guard let format = ExportFormat(rawValue: name) else {
                    throw StateError(
                        "export job \(org.name)/\(job.name) names the format \"\(name)\"; this version writes "
                            + ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return format
            }
            var texts: [String] = []
            var total: Int64 = 0, rows: Int64 = 0, failedCases: Int64 = 0
            for dictionary in dictionaries {
                let exporter = try Exporter(
                    feed: try sources.feed(for: dictionary), options: t.schemaOptions)
                let result = try exporter.export(
                    to: folder, chunkSize: chunk, formats: formats, includeDeleted: settings.includeDeleted, stop: stop)
                total += Int64(result.cases)
                rows += Int64(result.rows.values.reduce(0, +))
                failedCases += Int64(result.failed)
                texts.append(
                    "\(dictionary): exported \(result.cases) cases, \(result.rows.values.reduce(0, +)) rows in \(result.rows.count) tables to \(result.folder.path)"
                        + (result.deleted > 0
                            ? settings.includeDeleted
                                ? "; \(result.deleted) of them flagged deleted"
                                : "; \(result.deleted) deleted cases left out (include_deleted: true keeps them)"
                            : "")
                        + (result.failed > 0 ? "; \(result.failed) cases could not be decoded and are not in the export" : "")
                        + (result.truncatedValues > 0
                            ? "; \(result.truncatedValues) text values longer than SPSS's 32,767 bytes were cut in the .sav files" : ""))
            }
            return JobOutcome(status: .success, output: texts.joined(separator: "\n"), cases: total, rows: rows, failedCases: failedCases)
        }
        var texts: [String] = []
        var causes: [String] = []
        var cases: Int64 = 0, rows: Int64 = 0, failedCases: Int64 = 0
        var busy: [String] = []
        for dictionary in dictionaries {
            do {
                let feed = try sources.feed(for: dictionary)
                let breakout = try BreakoutEngine(
                    feed: feed, dialect: engine.dialect, options: t.schemaOptions,
                    connect: { try Databases.connectForWriting(destination.forBulkLoad) })
                let progressLog = ProgressLog(logger: logger)
                let summary = try breakout.run(
                    RunOptions(
                        threads: threads, chunkSize: chunk, shouldStop: stop, destinationWait: destinationWait,
                        progress: { p in
                            progressLog.report(p)
                            progress(
                                "\(p.dictionary) \(p.done)/\(p.total) cases"
                                    + (p.elapsed > 0 ? " (\(Int(Double(p.done) / p.elapsed)) cases/s)" : ""))
                        }))
                texts.append(summary.text)
                cases += Int64(summary.cases)
                rows += Int64(summary.rows.values.reduce(0, +))
                failedCases += Int64(summary.failedCases)
                if summary.stopped {
                    causes.append(
                        "\(dictionary): stopped at a chunk boundary after \(summary.cases) cases; the next run continues from the mark")
                }
            } catch let error as DestinationBusy {
                // The holder only adds a name to the "destination busy" message; the run is skipped either way.
                let holder = (try? busyHolder(job, target: t, dictionary: dictionary, logger: logger)) ?? nil
                busy.append(
                    "destination busy: " + (holder.map { "\($0) is writing" } ?? "another run is writing")
                        + " \(dictionary) into \(error.destination); this run waited \(Int(error.waited)) s and did not start")
            } catch {
                let (message, hint) = UserFacing.lines(error)
                causes.append("\(dictionary): failed: \(message)" + (hint.map { " (hint: \($0))" } ?? ""))
            }
            if stop() { break }
        }
        if !busy.isEmpty, causes.isEmpty, texts.isEmpty {
            return JobOutcome(status: .skipped, output: busy.joined(separator: "\n"))
        }
        causes += busy
        let output = (causes + texts).joined(separator: "\n")
        return JobOutcome(status: causes.isEmpty ? .success : .failed, output: output, cases: cases, rows: rows, failedCases: failedCases)
    }

    /// How long a run waits for another run holding its destination (`BREAKOUT_DESTINATION_WAIT`
    /// seconds; 60 by default).
    var destinationWait: Double { ProcessInfo.processInfo.environment["BREAKOUT_DESTINATION_WAIT"].flatMap(Double.init) ?? 60 }

    /// The run holding a destination: another job's run that is `running` and writes the same
    /// dictionary through the same connection (`ansd/breakout-rgph run 42`), when there is one.
    func busyHolder(_ job: JobRow, target mine: JobTarget, dictionary: String, logger: Logger) throws -> String? {
        let store = StateStore(connection: try Databases.connect(stateConfig))
        defer { store.connection.close() }
        let ownRun = logger[metadataKey: "run_id"].map { "\($0)" }
        let snapshot = try store.snapshot()
        let rows = try store.connection.query(ControlStatements.runningRuns)
        for row in rows {
            guard let runID = row[0].int64, let jobID = row[1].int64, "\(runID)" != ownRun,
                let other = snapshot.jobs.first(where: { $0.id == jobID }), other.organizationID == job.organizationID,
                // A job whose row does not resolve cannot be the holder; it is skipped in this search.
                let theirs = try? target(other), theirs.connectionName == mine.connectionName, theirs.dictionaries.contains(dictionary)
            else { continue }
            return "\(mine.organization.name)/\(other.name) run \(runID)"
        }
        return nil
    }
}

/// Progress lines during a run: at most one every 10 seconds, plus the last.
final class ProgressLog: Sendable {
    let logger: Logger
    private let throttle = Throttle(every: 10)

    init(logger: Logger) { self.logger = logger }

    func report(_ p: BreakoutProgress) {
        guard throttle.due(force: p.done == p.total) else { return }
        let rate = p.elapsed > 0 ? Double(p.done) / p.elapsed : 0
        logger.info(
            "progress",
            metadata: [
                "dictionary": "\(p.dictionary)", "done": "\(p.done)", "total": "\(p.total)",
                "cases_per_second": "\(Int(rate))",
            ])
    }
}
