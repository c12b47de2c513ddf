/// How destination tables and columns are named (a connection's `naming:`). One enum for the
/// configuration and the breakout.
package enum Naming: String, Sendable, CaseIterable, Codable {
    /// CSWeb's and CSPro's own names: `level-1`, `level-1-id`, `case-id`, `occ`, `item(1)`, lowercase records.
    case csweb
    /// Plain identifiers that need no quoting in ad-hoc SQL: `level_1`, `level_1_id`, `item_1`.
    case sql
}

/// What a cell holds when the case has a special value there (a connection's or job's
/// `specials:`; docs/breakout.md, "Special values"). One enum for the configuration and the breakout.
package enum SpecialValues: String, Sendable, CaseIterable, Codable {
    /// NULL for MISSING, REFUSED, DEFAULT and NOTAPPL alike (a code the data holds stays that code).
    case null
    /// The code the item's first value set gives MISSING, REFUSED or DEFAULT (NULL when it gives
    /// none); NOTAPPL stays NULL.
    case codes
    /// The value NULL for every special value (a code the value set maps to one included), and a
    /// `<item>_special` column next to each numeric item naming it: MISSING, REFUSED, DEFAULT or NOTAPPL.
    case columns
}
