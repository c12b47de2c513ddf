import Breakout
import CSPro
import CaseSources
import DatabaseDriver
import Drivers
import Foundation
import Generators
import SQL
import Verification

// Bad input everywhere (part of `breakout-bench faults`): malformed dictionaries, hostile names and
// absurd sizes, garbage blobs. The tool must never crash or inject; it gives a clear error or a
// correct load.

struct BadInputLine {
    var name: String
    var passed: Bool
    var detail: String
}

/// An outcome that is acceptable for bad input: exit 0, or exit 1 with an `error:` line that names
/// the file; never a signal, a hang or another exit status.
func judge(_ r: CommandResult, file: String) -> (ok: Bool, text: String) {
    if r.timedOut { return (false, "hung (killed after the timeout)") }
    if r.signaled { return (false, "crashed with signal \(r.status)") }
    if r.status == 0 { return (true, "accepted") }
    let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("error") }.map(String.init) ?? ""
    if r.status == 1, !line.isEmpty {
        return
            (line.contains(file) || r.stderr.contains(file)
            ? (true, "rejected: \(line.prefix(110))") : (false, "error does not name \(file): \(line)"))
    }
    return (false, "exit \(r.status) without an error line: \(r.text.prefix(200))")
}

func badInputScenarios(bin: String, servers: [Workspace.Kind]) throws -> [BadInputLine] {
    var lines: [BadInputLine] = []
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("faults-bad-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }

    // 1. Dictionaries: malformed files for both parsers, and valid ones with hostile content.
    let valid = JSONDictionaryWriter.text(SyntheticSurvey.dictionary())
    var files: [(String, Data)] = [
        ("empty.json", Data()),
        ("truncated.json", Data(valid.utf8.prefix(valid.utf8.count / 2))),
        ("not-json.json", Data("hello, this is not a dictionary".utf8)),
        ("array.json", Data("[]".utf8)),
        ("no-levels.json", Data(valid.replacingOccurrences(of: "\"levels\"", with: "\"levelz\"").utf8)),
        ("negative-length.json", mutate(valid, "\"length\"\\s*:\\s*3\\b", "\"length\": -3")),
        ("string-length.json", mutate(valid, "\"length\"\\s*:\\s*2\\b", "\"length\": \"two\"")),
        ("huge-numbers.json", mutate(valid, "\"length\"\\s*:\\s*1\\b", "\"length\": 99999999999999999999")),
        ("overlapping-items.json", mutate(valid, "\"start\"\\s*:\\s*16\\b", "\"start\": 2")),
        ("zero-occurrences.json", mutate(valid, "\"maximum\"\\s*:\\s*5\\b", "\"maximum\": 0")),
        ("deep-nesting.json", Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)),
        ("invalid-utf8.json", Data(valid.utf8.prefix(200)) + Data([0xC3, 0x28, 0xFF, 0xFE]) + Data(valid.utf8.dropFirst(200))),
        (
            "garbage.dcf",
            Data(
                "[Dictionary]\nName=X\n[Level]\nName=L\n[Record]\nLen=abc\nRecordTypeValue=\n[Item]\nStart=-5\nLen=999999999999\n\u{0}\u{1}\u{2}"
                    .utf8)
        ),
        (
            "truncated.dcf",
            Data(
                "[Dictionary]\nVersion=CSPro 7.0\nLabel=Test\nName=TEST_DICT\nRecordTypeStart=1\nRecordTypeLen=1\nPositions=Relative\nZeroFill=Yes\nDecimalChar=No\n\n[Level]\nLabel=Lev\nName=LEV\n\n[IdItems]\n\n[Item]\nLabel=Id\nName=ID\nStart=2\nLen="
                    .utf8)
        ),
    ]
    // Valid dictionaries with hostile content, built from the model.
    func item(_ name: String, _ start: Int, _ length: Int, alpha: Bool = false, occurrences: Int = 1) -> CSPro.Item {
        CSPro.Item(
            name: name, labels: [CSPro.Label(name)], contentType: alpha ? .alpha : .numeric, start: start, length: length, decimals: 0,
            decimalMark: false, zeroFill: !alpha, occurrences: occurrences, parent: nil, valueSets: [])
    }
    func dictionary(_ name: String, records: [CSPro.Record]) -> CSProDictionary {
        CSProDictionary(
            name: name, labels: [Label("Hostile")], recordTypeStart: 1, recordTypeLength: 1, relativePositions: false,
            defaultZeroFill: true, defaultDecimalMark: false, languages: [],
            levels: [CSPro.Level(name: "HH", labels: [Label("HH")], ids: [item("HHID", 2, 4)], records: records)])
    }
    let hostile: [(String, CSProDictionary)] = [
        (
            "sql-names",
            dictionary(
                "HOSTILE",
                records: [
                    CSPro.Record(
                        name: "x\"; DROP TABLE cases; --", labels: [Label("x")], typeValue: "1", required: true, maxOccurrences: 1,
                        items: [item("SELECT", 6, 2), item("y`]; DROP TABLE cases; --", 8, 10, alpha: true), item("ORDER", 18, 1)]),
                    CSPro.Record(
                        name: "TABLE", labels: [Label("t")], typeValue: "2", required: false, maxOccurrences: 3,
                        items: [item("FROM", 6, 3), item("WHERE", 9, 5, alpha: true)]),
                ])
        ),
        (
            "unicode-names",
            dictionary(
                "HOSTILE",
                records: [
                    CSPro.Record(
                        name: "ÉLÈVE_名前", labels: [Label("é")], typeValue: "1", required: true, maxOccurrences: 2,
                        items: [item("ÂGE", 6, 3), item("НАЗВА", 9, 12, alpha: true)])
                ])
        ),
        (
            "alpha-100000",
            dictionary(
                "HOSTILE",
                records: [
                    CSPro.Record(
                        name: "TEXTS", labels: [Label("n")], typeValue: "1", required: true, maxOccurrences: 1,
                        items: [item("N1", 6, 2), item("TEXT", 8, 100_000, alpha: true)])
                ])
        ),
        (
            "occurrences-10000",
            dictionary(
                "HOSTILE",
                records: [
                    CSPro.Record(
                        name: "WIDE", labels: [Label("w")], typeValue: "1", required: true, maxOccurrences: 1,
                        items: [item("V", 6, 1, occurrences: 10_000)])
                ])
        ),
        (
            "record-10000-occurrences",
            dictionary(
                "HOSTILE",
                records: [
                    CSPro.Record(
                        name: "MANY", labels: [Label("m")], typeValue: "1", required: false, maxOccurrences: 10_000,
                        items: [item("V", 6, 2)])
                ])
        ),
    ]
    for (name, d) in hostile { files.append(("\(name).json", Data(JSONDictionaryWriter.text(d).utf8))) }

    var accepted: [(String, CSProDictionary)] = []
    for (name, data) in files {
        let path = folder.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: data)
        var outcomes: [String] = []
        var ok = true
        var inspectOK = false
        for args in [["dictionary", "inspect", path], ["dictionary", "inspect", path, "--format", "json"]]
            + ["postgresql", "mysql", "sqlserver", "sqlite"].map({ ["dictionary", "ddl", path, "--dialect", $0] })
        {
            let r = try run(bin, args, timeout: 60)
            let (good, text) = judge(r, file: name)
            if !good { ok = false; outcomes.append("\(args[1]) \(args.last!): \(text)") }
            if args[1] == "inspect", r.status == 0 { inspectOK = true }
            if args.count == 3, outcomes.isEmpty { outcomes.append(text) }
        }
        lines.append(BadInputLine(name: "bad dictionary \(name)", passed: ok, detail: outcomes.joined(separator: "; ")))
        if inspectOK, let d = hostile.first(where: { "\($0.0).json" == name })?.1 { accepted.append((name, d)) }
    }

    // 2. The accepted hostile dictionaries broken out into every destination: a correct load or a
    //    clear error, and a sentinel table named `cases` outside the breakout's namespace survives.
    for (name, d) in accepted {
        let layout = CaseLayout(d)
        let cases = (1...5).map { hostileCase($0, d) }
        let source = folder.appendingPathComponent("\(name).db").path
        let connection = try Databases.connect(ConnectionConfig(engine: .sqlite, database: source))
        let writer = CSWebDatabaseWriter(connection: connection)
        try writer.createTables(for: d)
        for c in cases {
            try writer.put(dictionary: d.name, guid: c.id!, key: c.key, blob: try CSWebDatabaseWriter.blob(c, layout: layout), revision: 1)
        }
        connection.close()
        let expected = expectedDump(
            cases.map { ExpectedCase(guid: $0.id!, key: $0.key, label: nil, revision: 1, deleted: false, data: $0) }, dictionary: d)
        for kind in servers + [.sqlite] {
            let label = "hostile dictionary \(name) → \(kind.rawValue)"
            do {
                let w = try Workspace(kind, source: source, dictionary: d, bin: bin)
                defer { w.destroy() }
                let c = try w.connect()
                try c.execute("CREATE TABLE cases (sentinel INTEGER)")
                try c.execute("INSERT INTO cases VALUES (42)")
                let r = try w.processCases()
                let sentinel = try c.query("SELECT sentinel FROM cases").first?[0].int64
                c.close()
                let (good, text) = judge(r, file: "HOSTILE")
                var detail = text
                var passed = good && sentinel == 42
                if sentinel != 42 { detail += "; the sentinel table `cases` was changed" }
                if good, r.status == 0 {
                    let check = try w.connect()
                    let dump = try logicalDump(check, try w.schema)
                    check.close()
                    let diff = differences(dump, expected)
                    if !diff.isEmpty {
                        passed = false; detail = "loaded wrong rows: " + diff.prefix(3).joined(separator: "; ")
                    } else {
                        detail = "loaded exactly (\(dump.values.reduce(0) { $0 + $1.count }) rows); sentinel intact"
                    }
                } else if good {
                    detail += "; sentinel intact"
                }
                lines.append(BadInputLine(name: label, passed: passed, detail: detail))
            } catch {
                lines.append(BadInputLine(name: label, passed: false, detail: "\(error)"))
            }
        }
    }

    // 3. Garbage blobs among valid cases: each bad one is listed (or, for wrong-typed values, loaded
    //    with NULLs), every valid case arrives exactly.
    let d = SyntheticSurvey.dictionary()
    let layout = CaseLayout(d)
    let good = (1...30).map { SyntheticSurvey.makeCase($0) }
    let sample = JSONCaseEncoder.encode(SyntheticSurvey.makeCase(2).root, layout: layout)
    func z(_ text: String) throws -> [UInt8] { try CaseBlob.encode(Array(text.utf8)) }
    let deaths = "\"DEATHS\":[" + Array(repeating: "{\"D01_SEX\":1,\"D02_AGE\":30}", count: 10_000).joined(separator: ",") + "]"
    var bomb = try CaseBlob.encode(Array(repeating: 0x20, count: 200 * 1_048_576))
    bomb[0] = 0; bomb[1] = 0; bomb[2] = 0; bomb[3] = 0
    let garbage: [(String, [UInt8])] = [
        ("empty blob", []),
        ("3 bytes", [1, 2, 3]),
        ("header only", [0x1F, 0x8B, 0x08, 0x00]),
        ("random bytes", (0..<500).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }),
        ("header claims 4 GB", [0xFF, 0xFF, 0xFF, 0xFF] + Array(try z(sample).dropFirst(4))),
        ("zlib of not-JSON text", try z("this is not a case\u{0}\u{1}")),
        ("JSON with a string age", try z(sample.replacingOccurrences(of: "\"P03_AGE\":", with: "\"P03_AGE\":\"abc\",\"X\":"))),
        ("JSON with a number as name", try z(sample.replacingOccurrences(of: "\"P01_NAME\":\"", with: "\"P01_NAME\":12345,\"Y\":\""))),
        ("JSON record as a string", try z(sample.replacingOccurrences(of: "\"HOUSING\":{", with: "\"HOUSING\":\"oops\",\"Z\":{"))),
        ("JSON level as a number", try z("{\"id\":{\"PROVINCE\":1},\"level-2\":7}")),
        ("JSON with 10,000 DEATHS (max 5)", try z(sample.replacingOccurrences(of: "\"id\":{", with: deaths + ",\"id\":{"))),
        ("JSON nested 100,000 deep", try z(String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000))),
        ("inflates to 200 MiB of spaces", bomb),
        ("truncated zlib", Array(try z(sample).prefix(40))),
        ("4-byte UTF-8 split in half", try z(sample.replacingOccurrences(of: "\"P01_NAME\":\"", with: "\"P01_NAME\":\"\u{F0}\u{9F}"))),
    ]
    let source = folder.appendingPathComponent("garbage.db").path
    let connection = try Databases.connect(ConnectionConfig(engine: .sqlite, database: source))
    let writer = CSWebDatabaseWriter(connection: connection)
    try writer.createTables(for: d)
    for (i, c) in good.enumerated() {
        try writer.put(
            dictionary: d.name, guid: c.id!, key: c.key, blob: try CSWebDatabaseWriter.blob(c, layout: layout), revision: Int64(1 + i / 10))
    }
    var badKeys: [String: String] = [:]
    for (i, (what, blob)) in garbage.enumerated() {
        let guid = SyntheticCensus.uuid(900_000 + i), key = String(format: "99%08d", i)
        badKeys[key] = what
        try writer.put(dictionary: d.name, guid: guid, key: key, blob: blob, revision: 2)
    }
    connection.close()
    let goodGuids = Set(good.map { $0.id! })
    let expected = expectedDump(
        good.map { ExpectedCase(guid: $0.id!, key: $0.key, label: nil, revision: 1, deleted: false, data: $0) }, dictionary: d)
    for kind in servers + [.sqlite] {
        let label = "garbage blobs (\(garbage.count) kinds) among 30 valid cases → \(kind.rawValue)"
        do {
            let w = try Workspace(kind, source: source, dictionary: d, bin: bin)
            defer { w.destroy() }
            let r = try w.processCases()
            guard r.status == 0, !r.signaled else {
                lines.append(BadInputLine(name: label, passed: false, detail: "exit \(r.status): \(r.stderr.prefix(300))"))
                continue
            }
            let c = try w.connect()
            let dump = try logicalDump(c, try w.schema)
            let loadedKeys = Set(try c.query(.select(Select(from: try w.schema.cases.name, columns: ["key"]))).compactMap { $0[0].string })
            c.close()
            // Only the valid cases' lines are compared (their revision is checked through the cases table below).
            var validOnly: [String: [String]] = [:]
            for (table, rows) in dump { validOnly[table] = rows.filter { goodGuids.contains(String($0.prefix(36))) } }
            var want = expected
            want["cases"] = nil
            validOnly["cases"] = nil
            let diff = differences(validOnly, want)
            let errors = try w.errors()
            let unaccounted = badKeys.filter { errors[$0.key] == nil && !loadedKeys.contains($0.key) }
            let allGood = good.allSatisfy { loadedKeys.contains($0.key) }
            let passed = diff.isEmpty && unaccounted.isEmpty && allGood
            let loadedBad = badKeys.filter { loadedKeys.contains($0.key) }.map(\.value).sorted()
            lines.append(
                BadInputLine(
                    name: label, passed: passed,
                    detail: passed
                        ? "30 valid cases exact; \(errors.count) listed with a reason; loaded leniently: \(loadedBad.isEmpty ? "none" : loadedBad.joined(separator: ", "))"
                        : "differences: \(diff.prefix(3)); unaccounted: \(unaccounted.values.sorted()); all valid loaded: \(allGood)"))
        } catch {
            lines.append(BadInputLine(name: label, passed: false, detail: "\(error)"))
        }
    }
    return lines
}

/// `text` with every match of `pattern` replaced; the file must differ from the valid one.
func mutate(_ text: String, _ pattern: String, _ replacement: String) -> Data {
    let changed = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
    precondition(changed != text, "the mutation \(pattern) changed nothing")
    return Data(changed.utf8)
}

/// A case for a hostile dictionary: every record filled, alpha values that look like SQL and hold 4-byte UTF-8.
func hostileCase(_ n: Int, _ d: CSProDictionary) -> Case {
    let level = d.levels[0]
    var root = CaseNode(level: 0, ids: ["HHID": .number(Double(n))])
    for record in level.records {
        let count = min(record.maxOccurrences, record.required ? 1 : 2)
        root.records[record.name] = (0..<count).map { o in
            var values: [String: [CaseValue]] = [:]
            for (i, item) in record.items.enumerated() {
                values[item.name] = (0..<min(item.occurrences, 3)).map { k in
                    if item.contentType == .alpha {
                        let base = "x'\"; DROP TABLE cases; -- é🌍 \(n)-\(o)-\(k)"
                        // Long items get long values (4-byte characters included) to fill them.
                        let text = item.length > 200 ? String(repeating: base + " ", count: item.length / (base.count + 1)) : base
                        // CSPro keeps alpha values without trailing blanks.
                        var value = String(text.prefix(item.length))
                        while value.hasSuffix(" ") { value.removeLast() }
                        return .text(value)
                    }
                    return .number(Double((n * 7 + i + o + k) % 9 + 1))
                }
            }
            return RecordValues(values: values)
        }
    }
    let key = TextCaseCodec.text(.number(Double(n)), level.ids[0])
    return Case(id: SyntheticCensus.uuid(700_000 + n), key: key, root: root)
}
