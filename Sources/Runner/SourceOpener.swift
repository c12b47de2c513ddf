import Breakout
import CSPro
import CaseSources
import Config
import Drivers
import Foundation

/// Opens the configured source once and hands out a feed per dictionary.
public struct SourceOpener {
    let resolver: Resolver
    let settings: SourceSettings
    let csweb: CSWebSource?

    public init(resolver: Resolver) throws {
        self.resolver = resolver
        guard let settings = resolver.configuration.settings.source else {
            throw ConfigError(
                "breakout.yaml has no \"source\"", hint: "add source: {type: csweb, url: mysql://…} (or type csdb/dat with a path)")
        }
        self.settings = settings
        if settings.kind == .csweb, let url = settings.url {
            let config = try resolver.connectionConfig(url: url.value, password: settings.password)
            guard let connection = try Databases.connectForReading(config) else {
                throw ConfigError("\(url.location): the CSWeb source \(config.database) does not exist")
            }
            csweb = CSWebSource(connection: connection)
        } else {
            csweb = nil
        }
    }

    public func feed(for dictionary: String) throws -> any CaseFeed {
        switch settings.kind {
        case .csweb:
            return try CSWebFeed(source: csweb!, dictionary: dictionary)
        case .csdb:
            let paths = try glob(settings.path!.value)
            let feed = try SnapshotFeed.csdb(paths: paths)
            guard feed.dictionary.name == dictionary else {
                throw ConfigError("\(settings.path!.location): the .csdb files hold dictionary \(feed.dictionary.name), not \(dictionary)")
            }
            return feed
        case .dat:
            let paths = try glob(settings.path!.value)
            let dict = try CSProDictionary.load(path: resolver.resolve(settings.dictionary!.value))
            guard dict.name == dictionary else {
                throw ConfigError("\(settings.dictionary!.location): the dictionary file defines \(dict.name), not \(dictionary)")
            }
            guard paths.count == 1 else {
                throw ConfigError("\(settings.path!.location): a dat source must match exactly one file; it matches \(paths.count)")
            }
            return try SnapshotFeed.dat(path: paths[0], dictionary: dict)
        }
    }

    func glob(_ pattern: String) throws -> [String] {
        let full = resolver.resolve(pattern)
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(full, 0, nil, &g) == 0 else { throw ConfigError("\(settings.path!.location): no file matches \(pattern)") }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}
