/// What `make package` stamps into a release build (scripts/package.sh rewrites this file for the
/// build and restores it after): the commit the binary was built from. A source build has none.
enum BuildInfo {
    static let commit: String? = nil
}
