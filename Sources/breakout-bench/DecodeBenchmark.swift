import CSPro
import Foundation
import Generators

/// Decodes synthetic census blobs (level-1 JSON in a zlib stream behind CSWeb's 4-byte header) on one core and
/// reports cases/s and memory; then doubles the count to show memory stays flat.
func runDecodeBenchmark() throws {
    let count = option("--cases", 50_000)
    let layout = SyntheticCensus.layout
    print("breakout-bench decode: generating \(count) census cases…")
    var blobs: [[UInt8]] = []
    blobs.reserveCapacity(count)
    var compressed = 0
    var persons = 0
    for n in 0..<count {
        let c = SyntheticCensus.makeCase(n)
        persons += c.root.records["PERSON"]?.count ?? 0
        let blob = try CaseBlob.encode(Array(JSONCaseEncoder.encode(c.root, layout: layout).utf8))
        compressed += blob.count
        blobs.append(blob)
    }
    print(
        String(
            format: "  %.1f persons per case, %d bytes per compressed blob on average", Double(persons) / Double(count), compressed / count)
    )
    let before = peakRSSMiB()
    var checksum = 0.0
    func pass(_ n: Int) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<n {
            let c = try CaseBlob.decode(blobs[i % blobs.count], layout: layout, inflater: inflater)
            if case .number(let v)? = c.root.records["PERSON"]?.first?["P04_AGE"] { checksum += v }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    let inflateStart = DispatchTime.now().uptimeNanoseconds
    var inflated = 0
    let inflater = try ZlibInflater()
    for blob in blobs { inflated += try CaseBlob.inflate(blob, inflater: inflater).count }
    let inflateSeconds = Double(DispatchTime.now().uptimeNanoseconds - inflateStart) / 1e9
    print(
        String(
            format: "  inflate alone (libdeflate): %.2f s for %d cases (%.0f cases/s, %d bytes of JSON per case)", inflateSeconds, count,
            Double(count) / inflateSeconds, inflated / count))
    // Several timed passes in one run: this shared VM varies by ±20% from second to second, so the
    // median of the passes is the number to read.
    let passes = option("--passes", 7)
    var rates: [Double] = []
    for _ in 0..<passes { rates.append(Double(count) / (try pass(count))) }
    let sortedRates = rates.sorted()
    // Interference (other processes, the VM's steal time) only ever adds time, so the fastest pass
    // is the closest to the decoder's own cost; the median shows what the machine gave this run.
    print(
        "  passes (cases/s): " + rates.map { String(format: "%.0f", $0) }.joined(separator: " / ")
            + String(
                format: "; median %.0f; fastest %.0f (target ≥ 50,000 per core)", sortedRates[sortedRates.count / 2], sortedRates.last!))
    let seconds = try pass(count)
    let afterOne = peakRSSMiB()
    let second = option("--decode", count * 2)
    let secondsTwice = try pass(second)
    let afterTwo = peakRSSMiB()
    print(String(format: "  decode %d cases: %.2f s = %.0f cases/s on one core (target ≥ 50,000)", count, seconds, Double(count) / seconds))
    print(String(format: "  decode %d cases: %.2f s = %.0f cases/s", second, secondsTwice, Double(second) / secondsTwice))
    print(
        String(
            format: "  peak RSS: %.0f MiB with the blobs loaded, %.0f MiB after %d decodes, %.0f MiB after %d (flat = no growth per case)",
            before, afterOne, count, afterTwo, count + second))
    print(String(format: "  (checksum %.0f)", checksum))
}
