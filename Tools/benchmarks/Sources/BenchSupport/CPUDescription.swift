import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The CPU the benchmarks run on, in one line: the model name, the CPUID family and model (which
/// tell AMD cores apart where a cloud VM's model name says only "AMD EPYC"), the flags the kernels
/// choose their paths by, the L1d size, and whether the logical CPUs are SMT siblings of one core.
/// The same line as Tools/benchmarks/cpuinfo.py and the C harness (stats-c) print; cpuinfo.py
/// says why every figure needs it.
public let cpuDescription: String = {
    var fields: [String: String] = [:]
    var processors = 0
    for line in linesOfFile("/proc/cpuinfo") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = line[..<colon].trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if key == "processor" { processors += 1 }
        // The first processor describes them all.
        if processors <= 1 && fields[key] == nil { fields[key] = value }
    }
    let name = fields["model name"] ?? "unknown CPU"
    let family = Int(fields["cpu family"] ?? "") ?? -1
    let model = Int(fields["model"] ?? "") ?? -1
    let flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
    let chosen = ["avx2", "avx512f", "pclmulqdq", "vpclmulqdq", "bmi2"].filter { flags.contains($0) }.joined(separator: " ")
    var core = ""
    if (fields["vendor_id"] ?? "").contains("AMD") {
        switch family {
        case 0x17: core = model < 0x30 ? "Zen/Zen+" : "Zen 2"
        case 0x19: core = model < 0x10 || (0x20..<0x60).contains(model) ? "Zen 3" : "Zen 4"
        case 0x1A: core = "Zen 5"
        default: break
        }
    }
    let siblings = Int(fields["siblings"] ?? "") ?? 0
    let cores = Int(fields["cpu cores"] ?? "") ?? 0
    let l1dLine = linesOfFile("/sys/devices/system/cpu/cpu0/cache/index0/size").first ?? "?"
    let l1d = l1dLine.trimmingCharacters(in: .whitespacesAndNewlines)
    let coreName = core.isEmpty ? "" : " (\(core))"
    return "\(name), family \(family) model \(model)\(coreName), \(chosen), L1d \(l1d), \(siblings > cores ? "SMT" : "no SMT")"
}()

/// Writes "cpu: …" to standard error once per benchmark process, beside the figures that process
/// reports. (Standard output belongs to the benchmark host's results.)
public func announceCPU() {
    FileHandle.standardError.write(Data("cpu: \(cpuDescription)\n".utf8))
}

/// The lines of a file read with fgets: /proc files report a size of 0, so nothing that trusts the
/// size may read them.
private func linesOfFile(_ path: String) -> [String] {
    guard let file = fopen(path, "r") else { return [] }
    defer { fclose(file) }
    var lines: [String] = []
    var buffer = [CChar](repeating: 0, count: 1 << 16)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        lines.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }
    return lines
}
