import Breakout
import CSPro
import CaseSources
import DatabaseDriver
import Foundation
import Generators
import SQL

/// Row count and an order-independent checksum of one table's lines (``TableLines``): the sum of
/// a 64-bit hash of every line, so a missing, extra, duplicated or changed row changes it.
package struct TableDigest: Codable, Equatable, Sendable {
    package var rows = 0
    var sum: UInt64 = 0

    enum CodingKeys: String, CodingKey { case rows, checksum }

    package init() {}

    package var checksum: String { String(sum, radix: 16).leftPadded(to: 16) }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rows = try c.decode(Int.self, forKey: .rows)
        sum = UInt64(try c.decode(String.self, forKey: .checksum), radix: 16) ?? 0
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rows, forKey: .rows)
        try c.encode(checksum, forKey: .checksum)
    }

    package mutating func add(_ line: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in line.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        // splitmix64 finaliser: sums of FNV values alone cancel too easily.
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        sum &+= h
        rows += 1
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// What a breakout of a generated source must hold: per-table row counts and checksums, computed
/// from the generator's cases. `breakout-bench generate` writes it next to the source; the
/// benchmark and the fault-injection suite compare destinations against it.
package struct Manifest: Codable, Equatable, Sendable {
    package var shape: SyntheticShape
    package var dictionary: String
    package var cases: Int
    /// Cases that must arrive (not corrupt), deleted ones included (flagged).
    package var decodable: Int
    package var corrupt: Int
    package var lastRevision: Int64
    package var tables: [String: TableDigest]

    package init(_ contents: SyntheticCSWebSource.Contents) {
        shape = contents.shape
        dictionary = contents.options.name
        cases = contents.cases
        corrupt = contents.corrupt.count
        decodable = contents.cases - contents.corrupt.count
        lastRevision = contents.lastRevision
        let d = contents.dictionary
        var tables: [String: TableDigest] = [:]
        for name in TableLines.tableNames(d) { tables[name] = TableDigest() }
        for e in contents.expectedCases() { TableLines.expected(e, dictionary: d) { tables[$0, default: TableDigest()].add($1) } }
        self.tables = tables
    }

    /// The digests of what a destination holds.
    package static func digests(_ c: any DatabaseConnection, _ schema: BreakoutSchema) throws -> [String: TableDigest] {
        var tables: [String: TableDigest] = [:]
        for name in TableLines.tableNames(schema) { tables[name] = TableDigest() }
        try TableLines.actual(c, schema) { tables[$0, default: TableDigest()].add($1) }
        return tables
    }

    /// One line per table that differs, empty when the destination holds exactly the manifest.
    package func differences(_ actual: [String: TableDigest]) -> [String] {
        Set(tables.keys).union(actual.keys).sorted().compactMap { name in
            let want = tables[name], got = actual[name]
            if want == got { return nil }
            return "\(name): expected \(want.map { "\($0.rows) rows, checksum \($0.checksum)" } ?? "no table"), "
                + "found \(got.map { "\($0.rows) rows, checksum \($0.checksum)" } ?? "no table")"
        }
    }

    package var totalRows: Int { tables.values.reduce(0) { $0 + $1.rows } }

    package func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    package static func read(_ path: String) throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
