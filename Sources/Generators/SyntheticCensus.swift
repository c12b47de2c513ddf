import CSPro
import Foundation

/// A census-like dictionary and deterministic cases for benchmarks and generated sources: one
/// level, a housing record of 13 items and a person record of 20 items (up to 30 persons), about
/// 5 persons per household, some non-ASCII names, blanks and decimals.
package enum SyntheticCensus {
    package static func dictionary() -> CSProDictionary {
        func item(_ name: String, _ start: Int, _ length: Int, alpha: Bool = false, decimals: Int = 0) -> Item {
            Item(
                name: name, labels: [Label(name.capitalized)], contentType: alpha ? .alpha : .numeric, start: start, length: length,
                decimals: decimals, decimalMark: decimals > 0, zeroFill: !alpha, occurrences: 1, parent: nil, valueSets: [])
        }
        let ids = [item("PROVINCE", 2, 2), item("DISTRICT", 4, 2), item("EA", 6, 3), item("HH_NUMBER", 9, 4)]
        var housing: [Item] = []
        var column = 13
        for (name, length) in [
            ("H01_TYPE", 1), ("H02_WALL", 1), ("H03_ROOF", 1), ("H04_FLOOR", 1), ("H05_ROOMS", 2), ("H06_TENURE", 1),
            ("H07_RENT", 6), ("H08_TOILET", 1), ("H09_WATER", 1), ("H10_LIGHT", 1), ("H11_FUEL", 1), ("H12_PERSONS", 2), ("H13_DEATHS", 1),
        ] {
            housing.append(item(name, column, length))
            column += length
        }
        var person: [Item] = [item("LINE", 13, 2), item("NAME", 15, 30, alpha: true)]
        column = 45
        for (name, length, decimals) in [
            ("P02_REL", 1, 0), ("P03_SEX", 1, 0), ("P04_AGE", 3, 0), ("P05_MS", 1, 0), ("P06_MOTHER", 2, 0),
            ("P07_BIRTH", 2, 0), ("P08_RES", 1, 0), ("P09_ATTEND", 1, 0), ("P10_GRADE", 2, 0), ("P11_LITERACY", 1, 0),
            ("P12_WORKING", 1, 0), ("P13_OCC", 4, 0), ("P14_IND", 4, 0), ("P15_INCOME", 9, 2), ("P16_BORN", 2, 0),
            ("P17_LIVING", 2, 0), ("P18_DISAB", 1, 0), ("P19_PHONE", 1, 0),
        ] {
            person.append(item(name, column, length + (decimals > 0 ? 1 : 0), decimals: decimals))
            column += length + (decimals > 0 ? 1 : 0)
        }
        let level = Level(
            name: "CENSUS_QUEST", labels: [Label("Census questionnaire")], ids: ids,
            records: [
                Record(name: "HOUSING", labels: [Label("Housing")], typeValue: "1", required: true, maxOccurrences: 1, items: housing),
                Record(name: "PERSON", labels: [Label("Person")], typeValue: "2", required: false, maxOccurrences: 30, items: person),
            ])
        return CSProDictionary(
            name: "CENSUS", labels: [Label("Synthetic census")], recordTypeStart: 1, recordTypeLength: 1,
            relativePositions: false, defaultZeroFill: true, defaultDecimalMark: true, languages: [], levels: [level])
    }

    static let names = [
        "Awa Ndiaye", "Moussa Diop", "Fatou Sall", "Ibrahima Fall", "Aïssatou Bâ", "Cheikh Guèye", "Mariama Sow",
        "Ousmane Cissé", "Khady Faye", "Mamadou Ka", "Ndèye Mbaye", "Abdoulaye Wade", "Rokhaya Niang 🌍",
    ]

    /// Case number `n`, and with `edit` > 0 its `edit`-th re-synced version (deterministic).
    package static func makeCase(_ n: Int, edit: Int = 0) -> Case {
        var root = CaseNode(
            level: 0,
            ids: [
                "PROVINCE": .number(Double(n % 14 + 1)), "DISTRICT": .number(Double(n / 14 % 45 + 1)),
                "EA": .number(Double(n / 630 % 900 + 1)), "HH_NUMBER": .number(Double(n % 9999 + 1)),
            ])
        var housing = RecordValues(shape: housingShape)
        let persons = 1 + (n * 7 + 3) % 9
        for (i, name) in housingNames.enumerated() {
            let v: CaseValue =
                name == "H12_PERSONS"
                ? .number(Double(persons))
                : name == "H07_RENT"
                    ? (n % 3 == 0 ? .blank : .number(Double(n * 37 % 250_000)))
                    : .number(Double((n + i * 3 + edit) % 7 + 1))
            housing.slots[housingSlots[i]] = v
        }
        root.records["HOUSING"] = [housing]
        var people: [RecordValues] = []
        for p in 0..<persons {
            var person = RecordValues(shape: personShape)
            let seed = n * 31 + p * 17 + edit * 11
            person.slots[personSlots[0]] = .number(Double(p + 1))
            person.slots[personSlots[1]] = .text(names[seed % names.count])
            for (i, name) in personNames.dropFirst(2).enumerated() {
                let v: CaseValue
                switch name {
                case "P04_AGE": v = .number(Double(seed % 99))
                case "P15_INCOME": v = seed % 4 == 0 ? .blank : .number(Double(seed * 113 % 10_000_000) / 100)
                case "P13_OCC", "P14_IND": v = seed % 5 == 0 ? .blank : .number(Double(seed * 7 % 9999))
                default: v = .number(Double((seed + i) % 9 + 1))
                }
                person.slots[personSlots[i + 2]] = v
            }
            people.append(person)
        }
        root.records["PERSON"] = people
        let key = ["PROVINCE", "DISTRICT", "EA", "HH_NUMBER"].map { name in
            let id = dictionaryIDs.first { $0.name == name }!
            return TextCaseCodec.text(root.ids[name]!, id)
        }.joined()
        return Case(id: uuid(n), key: key, root: root)
    }

    static let dictionaryIDs = dictionary().levels[0].ids

    // Records are filled through the layout's shapes (slot offsets computed once), not by name.
    package static let layout = CaseLayout(dictionary())
    static let housingNames = [
        "H01_TYPE", "H02_WALL", "H03_ROOF", "H04_FLOOR", "H05_ROOMS", "H06_TENURE", "H07_RENT", "H08_TOILET", "H09_WATER",
        "H10_LIGHT", "H11_FUEL", "H12_PERSONS", "H13_DEATHS",
    ]
    static let personNames = [
        "LINE", "NAME", "P02_REL", "P03_SEX", "P04_AGE", "P05_MS", "P06_MOTHER", "P07_BIRTH", "P08_RES", "P09_ATTEND",
        "P10_GRADE", "P11_LITERACY", "P12_WORKING", "P13_OCC", "P14_IND", "P15_INCOME", "P16_BORN", "P17_LIVING",
        "P18_DISAB", "P19_PHONE",
    ]
    static let housingShape = layout.records.first { $0.record.name == "HOUSING" }!.shape
    static let personShape = layout.records.first { $0.record.name == "PERSON" }!.shape
    static let housingSlots = housingNames.map { housingShape.offsets[housingShape.index[$0]!] }
    static let personSlots = personNames.map { personShape.offsets[personShape.index[$0]!] }

    /// A UUID-shaped id derived from `n`.
    package static func uuid(_ n: Int) -> String {
        let a = UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15
        let b = (a ^ 0xDEAD_BEEF_CAFE_F00D) &* 0xBF58_476D_1CE4_E5B9
        let h = Array(String(format: "%016llx%016llx", a, b))
        return "\(String(h[0..<8]))-\(String(h[8..<12]))-4\(String(h[13..<16]))-8\(String(h[17..<20]))-\(String(h[20..<32]))"
    }
}
