import CSPro
import Foundation

/// A two-level household survey with every shape a breakout must handle, for the demo source and
/// the end-to-end tests: level 1 (household: HOUSING once, DEATHS up to 5 times, an item with 5
/// occurrences), level 2 (one node per person: PERSON once, BIRTHS up to 3 times), value sets
/// with labels in two languages and special values, alpha text with non-ASCII letters, decimals,
/// blanks and special values in the data. Deterministic: case `n` is always the same.
package enum SyntheticSurvey {
    package static let name = "CENSUS"

    /// The survey's dictionary; `name` lets one source hold it under several names.
    package static func dictionary(name: String = SyntheticSurvey.name) -> CSProDictionary {
        func label(_ en: String, _ fr: String) -> [Label] { [Label(en, language: "EN"), Label(fr, language: "FR")] }
        func item(
            _ name: String, _ start: Int, _ length: Int, alpha: Bool = false, decimals: Int = 0, occurrences: Int = 1,
            values: [(String, String, String, Special?)] = []
        ) -> Item {
            let sets =
                values.isEmpty
                ? []
                : [
                    ValueSet(
                        name: name + "_VS1", labels: label(name, name),
                        values: values.map { v, en, fr, special in
                            ValueSet.Value(labels: label(en, fr), pieces: [.init(from: v, to: nil)], special: special)
                        }, link: nil)
                ]
            return Item(
                name: name, labels: label(name.capitalized, name.capitalized), contentType: alpha ? .alpha : .numeric, start: start,
                length: length, decimals: decimals, decimalMark: decimals > 0, zeroFill: !alpha, occurrences: occurrences, parent: nil,
                valueSets: sets)
        }
        let ids1 = [item("PROVINCE", 2, 2), item("DISTRICT", 4, 2), item("EA", 6, 3), item("HH_NUMBER", 9, 4)]
        let housing = [
            item(
                "H01_TYPE", 15, 1,
                values: [("1", "House", "Maison", nil), ("2", "Apartment", "Appartement", nil), ("9", "Missing", "Manquant", .missing)]),
            item("H02_ROOMS", 16, 2), item("H03_RENT", 18, 8, decimals: 2), item("H04_ASSETS", 26, 1, occurrences: 5),
            item("H05_ADDRESS", 31, 40, alpha: true),
        ]
        let deaths = [
            item("D01_SEX", 15, 1, values: [("1", "Male", "Masculin", nil), ("2", "Female", "Féminin", nil)]), item("D02_AGE", 16, 3),
        ]
        let ids2 = [item("LINE", 13, 2)]
        let person = [
            item("P01_NAME", 15, 30, alpha: true),
            item("P02_SEX", 45, 1, values: [("1", "Male", "Masculin", nil), ("2", "Female", "Féminin", nil)]),
            item("P03_AGE", 46, 3, values: [("999", "Refused", "Refus", .refused)]), item("P04_INCOME", 49, 10, decimals: 2),
            item("P05_PHONE", 59, 12, alpha: true),
        ]
        let births = [item("B01_YEAR", 15, 4), item("B02_ALIVE", 19, 1, values: [("1", "Yes", "Oui", nil), ("2", "No", "Non", nil)])]
        return CSProDictionary(
            name: name, labels: label("Household survey", "Enquête ménages"), recordTypeStart: 1, recordTypeLength: 1,
            relativePositions: false, defaultZeroFill: true, defaultDecimalMark: true,
            languages: [.init(name: "EN", label: "English"), .init(name: "FR", label: "Français")],
            levels: [
                Level(
                    name: "HOUSEHOLD", labels: label("Household", "Ménage"), ids: ids1,
                    records: [
                        Record(
                            name: "HOUSING", labels: label("Housing", "Logement"), typeValue: "1", required: true, maxOccurrences: 1,
                            items: housing),
                        Record(
                            name: "DEATHS", labels: label("Deaths", "Décès"), typeValue: "2", required: false, maxOccurrences: 5,
                            items: deaths),
                    ]),
                Level(
                    name: "PERSON_LEVEL", labels: label("Person", "Personne"), ids: ids2,
                    records: [
                        Record(
                            name: "PERSON", labels: label("Person", "Personne"), typeValue: "3", required: true, maxOccurrences: 1,
                            items: person),
                        Record(
                            name: "BIRTHS", labels: label("Births", "Naissances"), typeValue: "4", required: false, maxOccurrences: 3,
                            items: births),
                    ]),
            ])
    }

    static let names = [
        "Awa Ndiaye", "Moussa Diop", "Fatou Sall", "Aïssatou Bâ", "Cheikh Guèye", "Ndèye Mbaye", "Oumar Touré", "Rokhaya Niang",
    ]

    package static let layout = CaseLayout(dictionary())

    /// Case `n`, and (with `edit` > 0) its `edit`-th re-synced version, which changes some values.
    package static func makeCase(_ n: Int, edit: Int = 0) -> Case {
        let layout = Self.layout
        func record(_ name: String, _ values: [String: [CaseValue]]) -> RecordValues {
            let shape = layout.records.first { $0.record.name == name }!.shape
            var r = RecordValues(shape: shape)
            for (i, item) in shape.names.enumerated() {
                for (o, v) in (values[item] ?? []).enumerated() where o < shape.counts[i] { r.slots[shape.offsets[i] + o] = v }
            }
            return r
        }
        let seed = n &* 2_654_435_761 % 1_000_003 + edit * 7
        var root = CaseNode(
            level: 0,
            ids: [
                "PROVINCE": .number(Double(n % 12 + 1)), "DISTRICT": .number(Double(n / 12 % 40 + 1)),
                "EA": .number(Double(n / 480 % 900 + 1)), "HH_NUMBER": .number(Double(n % 9000 + 1)),
            ])
        root.records["HOUSING"] = [
            record(
                "HOUSING",
                [
                    "H01_TYPE": [seed % 10 == 0 ? .special(.missing) : .number(Double(seed % 2 + 1))],
                    "H02_ROOMS": [.number(Double(seed % 8 + 1))],
                    "H03_RENT": [seed % 3 == 0 ? .blank : .number(Double(seed % 5_000_000) / 100)],
                    "H04_ASSETS": (0..<(seed % 6)).map { .number(Double(($0 + seed) % 2)) },
                    "H05_ADDRESS": [seed % 4 == 0 ? .blank : .text("\(seed % 300) rue de l'Indépendance")],
                ])
        ]
        let deaths = seed % 7 == 0 ? 1 + seed % 3 : 0
        if deaths > 0 {
            root.records["DEATHS"] = (0..<deaths).map { d in
                record("DEATHS", ["D01_SEX": [.number(Double((seed + d) % 2 + 1))], "D02_AGE": [.number(Double((seed + d * 13) % 90))]])
            }
        }
        let persons = 1 + seed % 6
        for p in 0..<persons {
            let s = seed + p * 31
            var node = CaseNode(level: 1, ids: ["LINE": .number(Double(p + 1))])
            let female = s % 2 == 1
            node.records["PERSON"] = [
                record(
                    "PERSON",
                    [
                        "P01_NAME": [.text(names[s % names.count])], "P02_SEX": [.number(female ? 2 : 1)],
                        "P03_AGE": [s % 29 == 0 ? .special(.refused) : .number(Double(s % 95))],
                        "P04_INCOME": [s % 5 == 0 ? .blank : .number(Double(s % 90_000_000) / 100)],
                        "P05_PHONE": [s % 3 == 0 ? .blank : .text("+221 77 \(s % 1000)")],
                    ])
            ]
            if female, s % 3 != 0 {
                node.records["BIRTHS"] = (0..<(1 + s % 3)).map { b in
                    record("BIRTHS", ["B01_YEAR": [.number(Double(1990 + (s + b) % 30))], "B02_ALIVE": [.number(Double((s + b) % 2 + 1))]])
                }
            }
            root.children.append(node)
        }
        let key = ["PROVINCE", "DISTRICT", "EA", "HH_NUMBER"].map { name in
            TextCaseCodec.text(root.ids[name]!, layout.dictionary.levels[0].ids.first { $0.name == name }!)
        }.joined()
        return Case(id: SyntheticCensus.uuid(n), key: key, root: root)
    }
}
