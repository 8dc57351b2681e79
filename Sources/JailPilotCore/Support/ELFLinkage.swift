import Glibc

/// What a built binary needs from the system it runs on, read from its ELF headers as the
/// kernel and the dynamic linker read them: its interpreter (PT_INTERP: the binary is
/// dynamically linked) and its DT_NEEDED libraries. A static Go binary has neither.
/// ELF64 little-endian only (amd64, arm64); anything else reads as nil (not judged).
public struct ELFLinkage: Sendable, Equatable {
    /// The dynamic linker the kernel starts it with (`/lib64/ld-linux-x86-64.so.2`,
    /// `/libexec/ld-elf.so.1`); nil for a static binary.
    public var interpreter: String?
    /// The libraries it names (DT_NEEDED), in order.
    public var needed: [String]

    /// Whether it needs anything of the system at all.
    public var isDynamic: Bool { interpreter != nil || !needed.isEmpty }

    /// Reads `path`'s linkage; nil when it is not an ELF64 little-endian file or its headers
    /// are malformed. Reads only the headers and the dynamic section (pread), whatever its size.
    public static func read(_ path: String) -> ELFLinkage? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let file = ELFFile(fd: fd, size: Int(info.st_size))
        return file.linkage()
    }

    /// The libraries (and interpreter) `root` cannot provide: each looked up in `libraryDirs`
    /// under `root` (the jail's template), the interpreter at its own path.
    public func missing(in root: String, libraryDirs: [String]) -> [String] {
        var missing: [String] = []
        if let interpreter, !FileIO.exists(root + interpreter) { missing.append(interpreter) }
        for name in needed where !libraryDirs.contains(where: { FileIO.exists("\(root)\($0)/\(name)") }) {
            missing.append(name)
        }
        return missing
    }
}

/// Bounded reads of an ELF64 little-endian file's headers.
struct ELFFile {
    let fd: Int32
    let size: Int

    func bytes(_ offset: Int, _ count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, count <= 1 << 20, offset <= size, count <= size - offset else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return got == count ? buffer : nil
    }

    static func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    static func u32(_ b: [UInt8], _ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) } }
    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }

    struct Segment {
        var type: Int
        var offset: Int
        var vaddr: UInt64
        var filesz: Int
    }

    func linkage() -> ELFLinkage? {
        // e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1).
        guard let header = bytes(0, 64), header[0..<4] == [0x7f, 0x45, 0x4c, 0x46], header[4] == 2, header[5] == 1 else {
            return nil
        }
        let phoff = Self.u64(header, 32)
        let phentsize = Self.u16(header, 54)
        let phnum = Self.u16(header, 56)
        guard phoff < UInt64(size), phentsize >= 56, phnum <= 4096 else { return nil }
        var segments: [Segment] = []
        for index in 0..<phnum {
            guard let ph = bytes(Int(phoff) + index * phentsize, 56) else { return nil }
            let offset = Self.u64(ph, 8)
            let filesz = Self.u64(ph, 32)
            guard offset <= UInt64(Int.max), filesz <= UInt64(Int.max) else { return nil }
            segments.append(Segment(type: Self.u32(ph, 0), offset: Int(offset), vaddr: Self.u64(ph, 16), filesz: Int(filesz)))
        }
        var linkage = ELFLinkage(interpreter: nil, needed: [])
        if let interp = segments.first(where: { $0.type == 3 }) {  // PT_INTERP
            guard let raw = bytes(interp.offset, min(interp.filesz, 4096)) else { return nil }
            linkage.interpreter = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let dynamic = segments.first(where: { $0.type == 2 }) else { return linkage }  // PT_DYNAMIC
        guard let entries = bytes(dynamic.offset, min(dynamic.filesz, 1 << 20)) else { return nil }
        var neededOffsets: [UInt64] = []
        var strtab: UInt64?
        for at in stride(from: 0, to: entries.count - 15, by: 16) {
            let tag = Self.u64(entries, at)
            let value = Self.u64(entries, at + 8)
            if tag == 0 { break }  // DT_NULL
            if tag == 1 { neededOffsets.append(value) }  // DT_NEEDED
            if tag == 5 { strtab = value }  // DT_STRTAB (an address)
        }
        guard !neededOffsets.isEmpty else { return linkage }
        // DT_STRTAB is a virtual address: the PT_LOAD segment that holds it gives its file offset.
        guard let strtab,
            let load = segments.first(where: {
                $0.type == 1 && strtab >= $0.vaddr && strtab - $0.vaddr < UInt64($0.filesz)
            })
        else { return nil }
        let base = load.offset + Int(strtab - load.vaddr)
        for offset in neededOffsets.prefix(256) {
            guard offset < 1 << 20, let raw = bytes(base + Int(offset), min(256, size - base - Int(offset))) else { return nil }
            linkage.needed.append(String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self))
        }
        return linkage
    }
}
