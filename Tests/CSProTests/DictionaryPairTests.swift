import Foundation
import Testing

@testable import CSPro

enum Fixtures {
    static let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(folder))) ?? []).sorted()
    }

    /// Every JSON/legacy pair: the same dictionary saved by CSPro 8.0 (JSON) and 7.7 or earlier (text).
    static var pairs: [DictionaryPair] {
        var out: [DictionaryPair] = []
        for name in files("cspro-examples/dictionaries-legacy77") where name.hasSuffix(".dcf") {
            out.append(
                DictionaryPair(json: "cspro-examples/dictionaries-json80/\(name)", legacy: "cspro-examples/dictionaries-legacy77/\(name)"))
        }
        for name in files("feature-showcase") where name.hasPrefix("legacy_") {
            out.append(DictionaryPair(json: "feature-showcase/\(name.dropFirst(7))", legacy: "feature-showcase/\(name)"))
        }
        return out
    }
}

struct DictionaryPair: CustomTestStringConvertible, Sendable {
    var json: String
    var legacy: String
    var testDescription: String { (legacy as NSString).lastPathComponent }
}

/// Field-by-field differences between two dictionaries, as readable lines.
func differences(_ a: CSProDictionary, _ b: CSProDictionary) -> [String] {
    var out: [String] = []
    func cmp<T: Equatable>(_ path: String, _ x: T, _ y: T) { if x != y { out.append("\(path): \(x) ≠ \(y)") } }
    cmp("name", a.name, b.name)
    cmp("labels", a.labels, b.labels)
    cmp("recordType", "\(a.recordTypeStart)+\(a.recordTypeLength)", "\(b.recordTypeStart)+\(b.recordTypeLength)")
    cmp("relativePositions", a.relativePositions, b.relativePositions)
    cmp("languages", a.languages, b.languages)
    cmp("levels.count", a.levels.count, b.levels.count)
    func items(_ path: String, _ x: [Item], _ y: [Item]) {
        cmp("\(path).names", x.map(\.name), y.map(\.name))
        for (i, j) in zip(x, y) where i.name == j.name {
            let p = "\(path).\(i.name)"
            cmp("\(p).labels", i.labels, j.labels)
            cmp("\(p).contentType", i.contentType, j.contentType)
            cmp("\(p).start", i.start, j.start)
            cmp("\(p).length", i.length, j.length)
            cmp("\(p).decimals", i.decimals, j.decimals)
            cmp("\(p).decimalMark", i.decimalMark, j.decimalMark)
            cmp("\(p).zeroFill", i.zeroFill, j.zeroFill)
            cmp("\(p).occurrences", i.occurrences, j.occurrences)
            cmp("\(p).parent", i.parent, j.parent)
            cmp("\(p).valueSets.names", i.valueSets.map(\.name), j.valueSets.map(\.name))
            for (u, v) in zip(i.valueSets, j.valueSets) where u.name == v.name {
                cmp("\(p).\(u.name).labels", u.labels, v.labels)
                cmp("\(p).\(u.name).values", u.values, v.values)
            }
        }
    }
    for (l, (x, y)) in zip(a.levels, b.levels).enumerated() {
        cmp("levels[\(l)].name", x.name, y.name)
        cmp("levels[\(l)].labels", x.labels, y.labels)
        items("\(x.name).ids", x.ids, y.ids)
        cmp("\(x.name).records", x.records.map(\.name), y.records.map(\.name))
        for (r, s) in zip(x.records, y.records) where r.name == s.name {
            cmp("\(r.name).labels", r.labels, s.labels)
            cmp("\(r.name).typeValue", r.typeValue, s.typeValue)
            cmp("\(r.name).required", r.required, s.required)
            cmp("\(r.name).maxOccurrences", r.maxOccurrences, s.maxOccurrences)
            items(r.name, r.items, s.items)
        }
    }
    return out
}

@Suite struct DictionaryPairTests {
    /// Pairs whose dictionary was edited between the two saves, with their real differences
    /// (the JSON side first). Every other pair must be identical field by field.
    static let knownDifferences: [String: [String]] = [
        "1_Data_Entry__CAPI_Census__Dictionaries__Assignments.dcf": [
            "ASSIGNMENTS_LEVEL.ids.names: [\"A_PROVINCE\", \"A_DISTRICT\", \"A_EA\", \"A_STAFF_CODE\", \"A_ROLE\"] ≠ [\"ASSIGNMENTS_PROVINCE\", \"ASSIGNMENTS_DISTRICT\", \"ASSIGNMENTS_EA\", \"ASSIGNMENTS_STAFF_CODE\", \"ASSIGNMENTS_ROLE\"]",
            "ASSIGNMENTS_REC.names: [\"A_SEGMENT\", \"A_DATE_ASSIGNED\"] ≠ [\"ASSIGNMENTS_SEGMENT\", \"ASSIGNMENTS_DATE_ASSIGNED\"]",
        ],
        "1_Data_Entry__CAPI_Census__Dictionaries__Geocodes.dcf": [
            "GEOCODES_LEVEL.ids.names: [\"G_PROVINCE\", \"G_DISTRICT\", \"G_EA\"] ≠ [\"GEOCODES_PROVINCE\", \"GEOCODES_DISTRICT\", \"GEOCODES_EA\"]",
            "GEOCODES_RECORD.names: [\"G_AREA_LEVEL\", \"G_AREA_NAME\"] ≠ [\"GEOCODES_AREA_LEVEL\", \"GEOCODES_AREA_NAME\"]",
        ],
        "1_Data_Entry__CAPI_Census__Dictionaries__Menu.dcf": [
            "MENU_REC.names: [\"M_VERIFY_CREDENTIALS\", \"M_SUPERVISOR_MENU\", \"M_INTERVIEWER_MENU\", \"M_VIEW_ALL_HOUSEHOLDS\", \"M_VIEW_REJECTED_HOUSEHOLDS\", \"M_MANAGE_STAFF\", \"M_MANAGE_STAFF_MEMBER\", \"M_MANAGE_STAFF_NAME\", \"M_INTERVIEWER_EA\", \"M_INTERVIEWER_CODE\", \"M_REVIEW_EA\", \"M_REVIEW_SEGMENT\", \"M_REVIEW_FILTER\", \"M_REVIEW_HOUSEHOLD\", \"M_CURRENT_PROVINCE\", \"M_CURRENT_DISTRICT\", \"M_CURRENT_EA\", \"M_CURRENT_SEGMENT\", \"M_CURRENT_STAFF_CODE\"] ≠ [\"LOGIN\", \"PIN_CODE_CONFIRMATION\", \"SUPERVISOR_ACCESS_PASSWORD\", \"SUPERVISOR_NAME\", \"SUPERVISOR_PIN_CODE\", \"ASSIGNMENT_SELECTION\", \"SUPERVISOR_PROVINCE\", \"SUPERVISOR_DISTRICT\", \"SUPERVISOR_MENU\", \"INTERVIEWER_MENU\", \"VIEW_ALL_HOUSEHOLDS\", \"MANAGE_STAFF\", \"MANAGE_STAFF_MEMBER\", \"MANAGE_STAFF_NAME\", \"INTERVIEWER_EA\", \"INTERVIEWER_CODE\", \"CURRENT_PROVINCE\", \"CURRENT_DISTRICT\"]"
        ],
        "1_Data_Entry__CAPI_Census__Dictionaries__Staff.dcf": [
            "STAFF_LEVEL.ids.names: [\"S_STAFF_CODE\"] ≠ [\"STAFF_CODE\"]",
            "STAFF_REC.names: [\"S_STAFF_NAME\", \"S_PIN_CODE\", \"S_DEVICE_ID\", \"S_SUPERVISOR_STAFF_CODE\", \"S_TIME_CREATED_ACCOUNT\"] ≠ [\"STAFF_NAME\", \"PIN_CODE\", \"DEVICE_ID\", \"SUPERVISOR_STAFF_CODE\", \"TIME_CREATED_ACCOUNT\"]",
        ],
        "legacy_7.0_v2_Auto-Increment_Application.dcf": ["AIA_REC.names: [\"CONTINUE_PROGRAM\"] ≠ [\"CONTINUE\"]"],
        "legacy_7.0_v2_CSPro_New_Features_Showcase_7.0_(2017-01-05).dcf": [
            "labels: [CSPro.Label(text: \"CSPro New Features Showcase 7 (2017-01-05) Dictionary\", language: nil)] ≠ [CSPro.Label(text: \"CSPro New Features Showcase 7 (2017-01-05) Dictionray\", language: nil)]"
        ],
    ]

    @Test(arguments: Fixtures.pairs)
    func bothFormatsYieldTheSameModel(pair: DictionaryPair) throws {
        let json = try CSProDictionary.load(path: Fixtures.path(pair.json))
        let legacy = try CSProDictionary.load(path: Fixtures.path(pair.legacy))
        let diff = differences(json, legacy)
        let expected = Self.knownDifferences[pair.testDescription] ?? []
        #expect(diff == expected, "\(diff.prefix(12).joined(separator: "\n"))")
    }
}

@Suite struct MalformedDictionaryTests {
    func legacy(_ body: String) -> DictionaryError? {
        do {
            _ = try CSProDictionary.parse(Data(body.utf8), file: "bad.dcf")
            return nil
        } catch let error as DictionaryError { return error } catch { return nil }
    }

    @Test func legacyErrorsNameTheLine() {
        let head =
            "[Dictionary]\nName=D\nRecordTypeStart=1\nRecordTypeLen=1\n\n[Level]\nName=L\n\n[IdItems]\n\n[Item]\nName=ID\nStart=2\nLen=2\n"
        #expect(
            legacy(head + "\n[Record]\nName=R\nRecordTypeValue='1'\n\n[Item]\nName=X\nStart=4\nLen=abc\n")?.description
                == "bad.dcf: line 23: Len=abc is not a number")
        #expect(legacy(head + "\n[Bogus]\n")?.description == "bad.dcf: line 16: unknown section [Bogus]")
        #expect(
            legacy(head + "\n[Record]\nName=R\n\n[Item]\nName=X\nStart=4\nLen=1\nItemType=SubItem\nDataType=Numeric\n")?.position
                == "line 23")
        #expect(legacy("Name=D\n")?.description == "bad.dcf: line 1: a legacy dictionary starts with [Dictionary]")
        #expect(legacy(head + "\n[Record]\nName=R\n\n[Item]\nName=X\nStart=4\nLen=1\nDataType=Blob\n")?.message == "unknown DataType=Blob")
        #expect(legacy(head + "\n[Record]\nName=R\nthis line has no equals\n")?.position == "line 18")
    }

    @Test func jsonErrorsNameThePath() {
        func json(_ body: String) -> DictionaryError? { legacy(body) }
        let ok = #"{"fileType":"dictionary","name":"D","levels":[{"name":"L","ids":{"items":[]},"records":[{"name":"R","items":[ITEM]}]}]}"#
        #expect(
            json(ok.replacingOccurrences(of: "ITEM", with: #"{"name":"X","length":"long"}"#))?.description
                == "bad.dcf: levels[0].records[0].items[0].length: expected a whole number")
        #expect(
            json(ok.replacingOccurrences(of: "ITEM", with: #"{"name":"X","length":1,"contentType":"video"}"#))?.message
                == "unknown content type \"video\"")
        #expect(
            json(ok.replacingOccurrences(of: "ITEM", with: #"{"name":"X","length":0}"#))?.position == "levels[0].records[0].items[0].length"
        )
        #expect(
            json(ok.replacingOccurrences(of: "ITEM", with: #"{"length":3}"#))?.description
                == "bad.dcf: levels[0].records[0].items[0].name: missing")
        #expect(
            json(ok.replacingOccurrences(of: "ITEM", with: #"{"name":"X","length":1,"subitem":true}"#))?.message
                == "a subitem must follow the item it belongs to")
        #expect(
            json(
                #"{"fileType":"dictionary","name":"D","levels":[{"name":"L","records":[{"name":"R","occurrences":{"maximum":true},"items":[]}]}]}"#
            )?.position
                == "levels[0].records[0].occurrences.maximum")
        #expect(json(#"{"fileType":"application"}"#)?.position == "fileType")
        #expect(json("{not json")?.position == "JSON")
    }

    /// Every fixture dictionary, in either format, parses and every item fits its record's line.
    @Test func everyFixtureDictionaryParses() throws {
        var count = 0
        for folder in ["cspro-examples/dictionaries-json80", "cspro-examples/dictionaries-legacy77", "feature-showcase", "cspro", "csweb"] {
            for name in Fixtures.files(folder) where name.hasSuffix(".dcf") {
                let d = try CSProDictionary.load(path: Fixtures.path("\(folder)/\(name)"))
                #expect(!d.levels.isEmpty, "\(name)")
                for (_, record) in d.allRecords {
                    for item in record.items { #expect(item.start >= 1 && item.length >= 1, "\(name) \(item.name)") }
                }
                count += 1
            }
        }
        #expect(count == 115)  // 50 JSON + 45 legacy examples, 16 showcase, 2 cspro, 2 csweb
    }
}
