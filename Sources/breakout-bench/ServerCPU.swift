import Foundation

/// CPU seconds used by the benchmark's own database servers (`scripts/test-servers.sh` writes their
/// pid files under BREAKOUT_TEST_DIR): the server process and every child of it, alive or reaped
/// (a PostgreSQL backend that has exited is counted in the postmaster's children's time).
struct ServerCPU {
    let roots: [Int32]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let dir = environment["BREAKOUT_TEST_DIR"] ?? "/tmp/breakout-test-servers"
        roots = ["\(dir)/pg/postmaster.pid", "\(dir)/mariadb.pid"].compactMap { path in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return text.split(whereSeparator: \.isNewline).first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
        }
    }

    /// Whether any server's pid is known (nil readings otherwise).
    var available: Bool { !roots.isEmpty }

    /// The servers' CPU seconds so far (user + system, own and children's).
    func seconds() -> Double? {
        guard available else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let stat = Self.stat(pid) else { continue }
            // A root counts itself and its reaped children; a child of a root counts itself only
            // (its own reaped children are nobody's in PostgreSQL).
            if roots.contains(pid) {
                total += Double(stat.utime + stat.stime + stat.cutime + stat.cstime) / ticks
            } else if roots.contains(stat.ppid) {
                total += Double(stat.utime + stat.stime) / ticks
            }
        }
        return total
    }

    /// Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses).
    static func stat(_ pid: Int32) -> (ppid: Int32, utime: Int, stime: Int, cutime: Int, cstime: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); ppid is field 4, utime..cstime fields 14–17.
        guard fields.count > 14, let ppid = Int32(fields[1]) else { return nil }
        let times = fields[11...14].compactMap { Int($0) }
        guard times.count == 4 else { return nil }
        return (ppid, times[0], times[1], times[2], times[3])
    }
}
