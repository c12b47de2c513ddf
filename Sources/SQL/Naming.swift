/// How destination tables and columns are named (a connection's `naming:`). One enum for the
/// configuration and the breakout.
package enum Naming: String, Sendable, CaseIterable, Codable {
    /// CSWeb's and CSPro's own names: `level-1`, `level-1-id`, `case-id`, `occ`, `item(1)`, lowercase records.
    case csweb
    /// Plain identifiers that need no quoting in ad-hoc SQL: `level_1`, `level_1_id`, `item_1`.
    case sql
}
