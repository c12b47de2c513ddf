// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "breakout",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "breakout", targets: ["breakout"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Hummingbird's own event loop library, named for the dashboard's connection guard.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // C client libraries: one system-library target each, nothing else in them.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CFreeTDS", providers: [.apt(["freetds-dev"])]),
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // zlib-format streams (CSWeb's blobs) through libdeflate: whole-buffer inflate at twice zlib's speed.
        .systemLibrary(name: "CLibdeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // The one protocol every user-facing error adopts (message, hint, location).
        .target(name: "Diagnostics"),

        // Generated CSPro data and CSWeb-shaped databases: for the tests, the bench and the demo's
        // source only; the product binary does not link it.
        .target(name: "Generators", dependencies: ["CSPro", "CaseSources", "DatabaseDriver", "SQL"]),

        // Encrypted secrets (enc:v1 values) and master keys.
        .target(name: "Secrets", dependencies: ["COpenSSL", "Diagnostics"]),

        // SQL as values: dialects, identifiers, types, rendering. No I/O.
        .target(name: "SQL", dependencies: ["Diagnostics"]),

        // CSPro dictionaries (JSON and legacy text) and cases.
        .target(name: "CSPro", dependencies: ["CLibdeflate", "Diagnostics"]),

        // Where cases come from: .csdb files, .dat files, CSWeb's database.
        .target(name: "CaseSources", dependencies: ["CSPro", "DatabaseDriver", "SQL", "SQLiteDriver", "Diagnostics"]),

        // Statistical file formats written from our own code against their specifications: Stata .dta 118.
        .target(name: "StatFiles"),

        // The breakout: destination schema from a dictionary, rows from cases, exactly-once chunked loading.
        .target(name: "Breakout", dependencies: ["CSPro", "CaseSources", "DatabaseDriver", "SQL", "Diagnostics", "StatFiles"]),

        // Checking a breakout: expected tables computed from cases (not through the row builder), a
        // destination read back by logical paths, and the manifest of a generated source.
        .target(
            name: "Verification", dependencies: ["Breakout", "CSPro", "CaseSources", "DatabaseDriver", "Drivers", "SQL", "Generators"]),

        // The control tables (mt_*): migrations, rows, the apply lock.
        .target(name: "State", dependencies: ["DatabaseDriver", "SQL", "Diagnostics"]),

        // Config → control tables: plan (diff), apply (one transaction under a lock), import.
        .target(name: "Reconcile", dependencies: ["Config", "State", "Secrets", "DatabaseDriver", "SQL", "Cron"]),

        // The scheduler and runner: next fires, leases in the control tables, running jobs.
        .target(
            name: "Runner",
            dependencies: [
                "Diagnostics", "DatabaseDriver", "Cron", "State", "Config", "Secrets", "Breakout", "CaseSources", "CSPro", "Drivers", "SQL",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // The web dashboard (`breakout serve`): server-rendered pages, JSON API, /metrics, run-now.
        .target(
            name: "Dashboard",
            dependencies: [
                "Runner", "State", "Config", "Secrets", "SQL", "DatabaseDriver", "Drivers", "Diagnostics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]),

        // Cron expressions: one parser for validation and the scheduler.
        .target(name: "Cron", dependencies: ["Diagnostics"]),

        // YAML configuration → validated model with file/line/column for every value.
        .target(
            name: "Config",
            dependencies: ["Diagnostics", "Cron", "SQL", "DatabaseDriver", "Secrets", .product(name: "Yams", package: "Yams")]),

        // The connection protocol every driver implements, and the factory that picks one.
        .target(name: "DatabaseDriver", dependencies: ["SQL", "Diagnostics"]),
        .target(name: "PostgresDriver", dependencies: ["DatabaseDriver", "SQL", "CLibPQ"]),
        .target(name: "MySQLDriver", dependencies: ["DatabaseDriver", "SQL", "CMariaDB"]),
        .target(name: "SQLServerDriver", dependencies: ["DatabaseDriver", "SQL", "CFreeTDS"]),
        .target(name: "SQLiteDriver", dependencies: ["DatabaseDriver", "SQL", "CSQLite3"]),
        .target(
            name: "Drivers",
            dependencies: [
                "DatabaseDriver", "SQL", "PostgresDriver", "MySQLDriver", "SQLServerDriver", "SQLiteDriver",
            ]),

        // Command-line front end: thin.
        // In Sources/CLI: a folder named `breakout` would collide with `Breakout` on a
        // case-insensitive file system.
        .executableTarget(
            name: "breakout",
            dependencies: [
                "Drivers", "SQL", "Secrets", "Config", "Cron", "CSPro", "CaseSources", "Breakout", "State", "Reconcile", "Runner",
                "Dashboard",
                "Diagnostics", "DatabaseDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/CLI"),

        // Benchmarks (run by `make bench`, never part of the tests).
        .executableTarget(
            name: "breakout-bench",
            dependencies: ["DatabaseDriver", "Drivers", "SQL", "CSPro", "CaseSources", "Breakout", "Verification", "Secrets", "Generators"]),

        .testTarget(name: "SQLTests", dependencies: ["SQL", "DatabaseDriver"]),
        .testTarget(name: "DriverTests", dependencies: ["Drivers", "SQL"]),
        .testTarget(name: "SecretsTests", dependencies: ["Secrets"]),
        .testTarget(
            name: "CSProTests", dependencies: ["CSPro", "CaseSources", "SQLiteDriver", "DatabaseDriver", "SQL", "Generators"],
            exclude: ["Golden"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Cron", "Secrets"], resources: [.copy("Corpus")]),
        .testTarget(
            name: "BreakoutTests",
            dependencies: [
                "DatabaseDriver", "SQLiteDriver", "Breakout", "CaseSources", "CSPro", "Drivers", "SQL", "Verification", "Generators",
                "StatFiles",
            ],
            exclude: ["Golden"]),
        .testTarget(
            name: "ReconcileTests",
            dependencies: [
                "DatabaseDriver", "Reconcile", "State", "Config", "Secrets", "Drivers", "SQL", "Runner", "Cron", "CaseSources", "Dashboard",
                "Generators",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "CLITests", dependencies: []),
    ],
    swiftLanguageModes: [.v6]
)
