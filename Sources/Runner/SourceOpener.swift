import Breakout
import CSPro
import CaseSources
import Config
import Drivers
import Foundation

/// Opens the configured source once and hands out a feed per dictionary.
package struct SourceOpener {
    let resolver: Resolver
    let settings: SourceSettings
    let csweb: CSWebSource?

    package init(resolver: Resolver) throws {
        self.resolver = resolver
        guard let settings = resolver.configuration.settings.source else {
            throw ConfigError(
                "breakout.yaml has no \"source\"", hint: "add source: {type: csweb, url: mysql://…} (or type csdb/dat with a path)")
        }
        self.settings = settings
        if case .csweb(let url, let password) = settings {
            let config = try resolver.connectionConfig(url: url.value, password: password)
            guard let connection = try Databases.connectForReading(config) else {
                throw ConfigError("\(url.location): the CSWeb source \(config.database) does not exist")
            }
            csweb = CSWebSource(connection: connection)
        } else {
            csweb = nil
        }
    }

    package func feed(for dictionary: String) throws -> any CaseFeed {
        switch settings {
        case .csweb:
            // Opened in init for this case.
            guard let csweb else { throw ConfigError("the CSWeb source is not open") }
            return try CSWebFeed(source: csweb, dictionary: dictionary)
        case .csdb(let path):
            let paths = try glob(path)
            let feed = try SnapshotFeed.csdb(paths: paths)
            guard feed.dictionary.name == dictionary else {
                throw ConfigError("\(path.location): the .csdb files hold dictionary \(feed.dictionary.name), not \(dictionary)")
            }
            return feed
        case .dat(let path, let dictionaryFile):
            let paths = try glob(path)
            let dict = try CSProDictionary.load(path: resolver.resolve(dictionaryFile.value))
            guard dict.name == dictionary else {
                throw ConfigError("\(dictionaryFile.location): the dictionary file defines \(dict.name), not \(dictionary)")
            }
            guard paths.count == 1 else {
                throw ConfigError("\(path.location): a dat source must match exactly one file; it matches \(paths.count)")
            }
            return try SnapshotFeed.dat(path: paths[0], dictionary: dict)
        }
    }

    func glob(_ pattern: Located<String>) throws -> [String] {
        let full = resolver.resolve(pattern.value)
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(full, 0, nil, &g) == 0 else { throw ConfigError("\(pattern.location): no file matches \(pattern.value)") }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}
