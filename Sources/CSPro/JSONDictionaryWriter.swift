import Foundation

/// Writes a dictionary in CSPro's JSON format (7.7+), with absolute item positions, so that a
/// generated CSWeb database carries a dictionary every reader (CSWeb, CSPro, this tool) accepts.
package enum JSONDictionaryWriter {
    package static func text(_ d: CSProDictionary) -> String {
        func labels(_ l: [Label]) -> [[String: Any]] {
            l.map { label -> [String: Any] in
                var o: [String: Any] = ["text": label.text]
                if let language = label.language { o["language"] = language }
                return o
            }
        }
        func item(_ it: Item) -> [String: Any] {
            var o: [String: Any] = [
                "name": it.name, "labels": labels(it.labels), "contentType": it.contentType.rawValue,
                "start": it.start, "length": it.length, "zeroFill": it.zeroFill,
            ]
            if it.decimals > 0 { o["decimals"] = it.decimals; o["decimalMark"] = it.decimalMark }
            if it.occurrences > 1 { o["occurrences"] = ["maximum": it.occurrences] }
            if it.parent != nil { o["subitem"] = true }
            if !it.valueSets.isEmpty {
                o["valueSets"] = it.valueSets.map { vs -> [String: Any] in
                    var set: [String: Any] = [
                        "name": vs.name, "labels": labels(vs.labels),
                        "values": vs.values.map { v -> [String: Any] in
                            var value: [String: Any] = [
                                "labels": labels(v.labels),
                                "pairs": v.pieces.map { p -> [String: Any] in
                                    p.to.map { ["range": [p.from, $0]] } ?? ["value": p.from]
                                },
                            ]
                            if let s = v.special { value["special"] = s.rawValue }
                            return value
                        },
                    ]
                    if let link = vs.link { set["link"] = link }
                    return set
                }
            }
            return o
        }
        let top: [String: Any] = [
            "software": "CSPro", "version": 8.0, "fileType": "dictionary", "name": d.name, "labels": labels(d.labels),
            "recordType": ["start": d.recordTypeStart, "length": d.recordTypeLength], "relativePositions": false,
            "defaults": ["decimalMark": d.defaultDecimalMark, "zeroFill": d.defaultZeroFill],
            "levels": d.levels.map { level -> [String: Any] in
                [
                    "name": level.name, "labels": labels(level.labels), "ids": ["items": level.ids.map(item)],
                    "records": level.records.map { r -> [String: Any] in
                        [
                            "name": r.name, "labels": labels(r.labels), "recordType": r.typeValue,
                            "occurrences": ["required": r.required, "maximum": r.maxOccurrences], "items": r.items.map(item),
                        ]
                    },
                ]
            },
        ]
        // The object is built here from strings, numbers and arrays only; serialisation cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: top, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
