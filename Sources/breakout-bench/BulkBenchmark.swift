import Drivers
import Foundation
import SQL

// Bulk-load micro-benchmark: each driver's bulk path against the raw client tool loading the same
// rows in the same run (psql \copy, mariadb LOAD DATA LOCAL INFILE), printed as ratios.
// Run through `make bench`, which starts the servers and sets the URLs. Never part of the tests.
//
//   breakout-bench [--rows N] [--repeat K]

func runBulkBenchmark() throws {
    let rowCount = option("--rows", 500_000)
    let repeats = option("--repeat", 3)
    let environment = ProcessInfo.processInfo.environment

    /// Census-person-like rows: ids, small integers, decimals, short and medium text, some NULLs, non-ASCII.
    func makeRows(_ n: Int) -> [[SQLValue]] {
        let names = [
            "Awa Ndiaye", "Moussa Diop", "Fatou Sall", "Ibrahima Fall", "Aïssatou Bâ", "Cheikh Guèye", "Mariama Sow", "Ousmane Cissé",
        ]
        let places = ["Dakar", "Thiès", "Saint-Louis", "Ziguinchor", "Kaolack", "Tambacounda", "Kédougou", "Sédhiou"]
        return (0..<n).map { i in
            [
                .integer(Int64(i)), .integer(Int64(i / 5)), .integer(Int64(i % 5 + 1)),
                .integer(Int64(i % 99)), .integer(Int64(i % 2 + 1)),
                i % 17 == 0 ? .null : .decimal(SQLDecimal("\(i % 100000).\(String(i % 100).count == 1 ? "0" : "")\(i % 100)")!),
                .text(names[i % names.count]), .text(places[(i / 3) % places.count]),
                i % 9 == 0 ? .null : .integer(Int64(i % 12)),
                .text("household \(i / 5) of district \(i % 45)"),
            ]
        }
    }

    let columns = ["id", "household", "line", "age", "sex", "income", "name", "place", "relation", "note"]
    let table = QualifiedName("bench_person")
    let definition = TableDefinition(
        table,
        columns: [
            ColumnDefinition("id", .bigint, nullable: false), ColumnDefinition("household", .bigint), ColumnDefinition("line", .integer),
            ColumnDefinition("age", .integer), ColumnDefinition("sex", .integer),
            ColumnDefinition("income", .decimal(precision: 10, scale: 2)),
            ColumnDefinition("name", .varchar(40)), ColumnDefinition("place", .varchar(40)), ColumnDefinition("relation", .integer),
            ColumnDefinition("note", .varchar(80)),
        ], ifNotExists: false)

    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    func resetTable(_ connection: any DatabaseConnection) throws {
        try connection.execute(.dropTable(table, ifExists: true))
        try connection.execute(.createTable(definition))
    }

    func countRows(_ connection: any DatabaseConnection) throws -> Int {
        Int(try connection.query("SELECT COUNT(*) FROM \(try connection.dialect.quote(table))").first?[0].int64 ?? -1)
    }

    struct Line { var engine: String; var driverSeconds: Double; var rawSeconds: Double?; var rawTool: String; var method: String }

    print("breakout-bench: generating \(rowCount) rows of \(columns.count) columns…")
    let rows = makeRows(rowCount)
    let tsvPath = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-bench-\(getpid()).tsv").path
    var tsv: [UInt8] = []
    let encoder = TextRowEncoder(blobStyle: .raw)
    for row in rows { encoder.encode(row, into: &tsv) }
    guard FileManager.default.createFile(atPath: tsvPath, contents: Data(tsv)) else { fatalError("cannot write \(tsvPath)") }
    defer { try? FileManager.default.removeItem(atPath: tsvPath) }
    print("breakout-bench: \(tsv.count / 1_048_576) MiB as text; \(repeats) runs each, medians reported\n")

    var lines: [Line] = []

    func measure(engine: String, url: String?, rawTool: String, raw: ((ConnectionConfig) throws -> Void)?) throws {
        guard let url else { print("skip \(engine): no URL"); return }
        let config = try ConnectionConfig.parse(url: url)
        let connection = try Databases.connect(config.forBulkLoad)
        var driver: [Double] = []
        var rawTimes: [Double] = []
        var method = ""
        for _ in 0..<repeats {
            try resetTable(connection)
            driver.append(
                try elapsed {
                    let loader = try connection.makeBulkLoader(into: table, columns: columns)
                    for row in rows { try loader.append(row) }
                    _ = try loader.finish()
                    method = loader.method
                })
            guard try countRows(connection) == rowCount else {
                throw DatabaseError(.bulkLoad, engine: config.engine, "driver loaded a wrong row count")
            }
            if let raw {
                try resetTable(connection)
                rawTimes.append(try elapsed { try raw(config) })
                guard try countRows(connection) == rowCount else {
                    throw DatabaseError(.bulkLoad, engine: config.engine, "\(rawTool) loaded a wrong row count")
                }
            }
        }
        try connection.execute(.dropTable(table, ifExists: true))
        lines.append(
            Line(
                engine: engine, driverSeconds: median(driver), rawSeconds: rawTimes.isEmpty ? nil : median(rawTimes), rawTool: rawTool,
                method: method))
    }

    let columnList = columns.joined(separator: ", ")
    try measure(engine: "PostgreSQL", url: environment["BREAKOUT_TEST_POSTGRES_URL"], rawTool: "psql \\copy") { config in
        let psql = which("psql", [environment["BREAKOUT_TEST_PG_BIN"] ?? ""])!
        try runChecked(
            psql,
            [
                "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", config.host!, "-p", String(config.port!), "-U", config.user!, "-d",
                config.database,
                "-c", "\\copy bench_person (\(columnList)) FROM '\(tsvPath)'",
            ],
            env: ["PGPASSWORD": config.password ?? ""])
    }
    try measure(engine: "MariaDB", url: environment["BREAKOUT_TEST_MYSQL_URL"], rawTool: "mariadb LOAD DATA") { config in
        let client = which("mariadb") ?? which("mysql")!
        try runChecked(
            client,
            [
                "--no-defaults", "--local-infile=1", "-h", config.host!, "-P", String(config.port!), "-u", config.user!, config.database,
                "-e", "LOAD DATA LOCAL INFILE '\(tsvPath)' INTO TABLE bench_person CHARACTER SET utf8mb4 (\(columnList))",
            ],
            env: ["MYSQL_PWD": config.password ?? ""])
    }
    let sqlitePath = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-bench-\(getpid()).db").path
    defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) } }
    try measure(engine: "SQLite", url: "sqlite:\(sqlitePath)", rawTool: "(none)", raw: nil)

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    print(
        pad("engine", 11) + pad("driver path", 24) + pad("driver rows/s", 15) + pad("raw tool", 19) + pad("raw rows/s", 13)
            + "driver time / raw time")
    for line in lines {
        let driverRate = Double(rowCount) / line.driverSeconds
        var out = pad(line.engine, 11) + pad(line.method, 24) + pad(String(format: "%.0f", driverRate), 15) + pad(line.rawTool, 19)
        if let raw = line.rawSeconds {
            out += pad(String(format: "%.0f", Double(rowCount) / raw), 13) + String(format: "%.2f×", line.driverSeconds / raw)
        } else {
            out += pad("-", 13) + "-"
        }
        print(out)
    }
    print("\ntarget: driver time within 1.3× of the raw tool on the same rows")

}
