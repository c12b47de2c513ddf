/// Computes absolute item starts for dictionaries with relative positions.
///
/// Rule (CSPro `DictItem`/`Pre80SpecFile`, checked on 123 legacy dictionaries): record items start
/// at the first column after every id item of every level and the record type; each later
/// non-subitem follows the previous one (length × occurrences); a subitem sits at its offset
/// inside its parent.
enum DictionaryLayout {
    struct Pending {
        var explicitStart: Int?
        var subitemOffset: Int?
    }

    static func firstRecordColumn(_ levels: [Level], recordTypeStart: Int, recordTypeLength: Int) -> Int {
        var end = recordTypeLength > 0 ? recordTypeStart + recordTypeLength - 1 : 0
        for level in levels {
            for id in level.ids { end = max(end, id.start + id.length * id.occurrences - 1) }
        }
        return end + 1
    }

    /// Fills in `start` for record items from their explicit starts or the relative rule.
    static func assignStarts(_ items: inout [Item], pending: [Pending], firstColumn: Int) {
        var position = firstColumn
        var parentStart = firstColumn
        for i in items.indices {
            if let offset = pending[i].subitemOffset {
                items[i].start = pending[i].explicitStart ?? parentStart + offset
            } else {
                items[i].start = pending[i].explicitStart ?? position
                parentStart = items[i].start
                position = items[i].start + items[i].length * items[i].occurrences
            }
        }
    }
}
