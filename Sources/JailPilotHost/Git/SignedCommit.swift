import JailPilotCore

/// A commit object read as git reads a signed commit, byte for byte: the signature, the payload
/// it signs, and the committer time it is verified at.
///
/// The rules are git's own (git 2.39, commit.c `parse_buffer_signed_by_header`, called by
/// `parse_signed_commit` for `git verify-commit`):
/// - the header ends at the first empty line; everything after it is payload, whatever it
///   holds (a `gpgsig` line in the message is not a signature);
/// - a header line starting with exactly `gpgsig ` (`gpg_sig_headers[]` for SHA-1; libgit2,
///   which the mirrors use, reads SHA-1 repositories only) starts the signature, and each
///   following line starting with a space continues it, without that space; two such headers
///   are one signature of both;
/// - any other header line starting with `gpgsig` (`gpgsig-sha256`, the other signature of a
///   dual-hash commit, or `gpgsigfoo`) is left out of the payload with its continuation lines
///   (`other_signature`);
/// - every other byte, a NUL included, is payload: the signature is checked over all of them.
///
/// A NUL before the end of the header is refused as git's fsck refuses it (fsck.c
/// `verify_headers`, nulInHeader, FATAL), though `git verify-commit` alone would check the
/// signature over it: no forge that checks objects accepts such a commit.
public struct SignedCommit: Sendable, Equatable {
    /// When the commit says it was committed (gpg-interface.c `parse_payload_metadata`: the
    /// payload's first `committer` header, split by ident.c `split_ident_line`).
    public enum CommitterTime: Sendable, Equatable {
        /// Seconds since the epoch, as written.
        case at(UInt64)
        /// A committer without a date (or a date of 0): git verifies at the current time.
        case undated
        /// No committer header with a name and <email>: git refuses to verify the commit.
        case missing
    }

    /// The signature header's value, continuation lines without their leading space.
    public var signature: [UInt8] = []
    /// Whether the object has a `gpgsig` header (git's `saw_signature`).
    public var isSigned = false
    /// The object without its signature headers: what the signer signed.
    public var payload: [UInt8] = []
    /// Where a NUL ends the header early (git fsck: nulInHeader), nil when none does.
    public var nulInHeader: Int?

    /// Reads `object`, a commit object's bytes (without the `commit <size>\0` of its storage).
    public init(object: [UInt8]) {
        nulInHeader = Self.nulInHeader(object)
        let header = Array("gpgsig".utf8)
        var inSignature = false
        var otherSignature = false
        var line = object.startIndex
        while line < object.endIndex {
            var next = object[line...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? object.endIndex
            let text = object[line..<next]
            var signatureStart: Int?
            if inSignature, text.first == UInt8(ascii: " ") {
                signatureStart = line + 1
            } else if text.starts(with: header), text.dropFirst(header.count).first == UInt8(ascii: " ") {
                signatureStart = line + header.count + 1
                otherSignature = false
            } else if text.starts(with: header) {
                otherSignature = true
            } else if otherSignature, text.first != UInt8(ascii: " ") {
                otherSignature = false
            }
            if let start = signatureStart {
                signature += object[start..<next]
                isSigned = true
                inSignature = true
            } else {
                // The empty line: the rest of the object is payload, as it is.
                if text.first == UInt8(ascii: "\n") { next = object.endIndex }
                if !otherSignature { payload += object[line..<next] }
                inSignature = false
            }
            line = next
        }
    }

    /// Where a NUL comes before the header's end (fsck.c `verify_headers`), nil when none does.
    static func nulInHeader(_ object: [UInt8]) -> Int? {
        for index in object.indices {
            if object[index] == 0 { return index }
            if object[index] == UInt8(ascii: "\n"), index + 1 < object.count, object[index + 1] == UInt8(ascii: "\n") {
                return nil
            }
        }
        return nil
    }

    /// The signature's kind, from its armor (gpg-interface.c `get_format_by_sig`: OpenPGP's two
    /// armors, SSH's one; git's third, x509 for gpgsm, is not one the agent verifies).
    public var kind: CommitVerification.Method? {
        let armor = { (prefix: String) in signature.starts(with: Array(prefix.utf8)) }
        if armor("-----BEGIN SSH SIGNATURE-----") { return .ssh }
        if armor("-----BEGIN PGP SIGNATURE-----") || armor("-----BEGIN PGP MESSAGE-----") { return .gpg }
        return nil
    }

    /// The committer time of the payload, read as git reads it: `find_commit_header` (header
    /// lines up to the empty line, or a NUL), then `split_ident_line` (a `<`, a `>`, and after
    /// the last `>` digits, spaces and a `+`/`-` zone, else no date).
    public var committerTime: CommitterTime {
        let key = Array("committer ".utf8)
        var line = payload.startIndex
        while line < payload.endIndex {
            let end = payload[line...].firstIndex { $0 == UInt8(ascii: "\n") || $0 == 0 } ?? payload.endIndex
            if line == end { return .missing }
            // The first "committer " line counts, even with nothing after it (then git refuses).
            if end - line >= key.count, payload[line...].starts(with: key) {
                return Self.identTime(payload[(line + key.count)..<end])
            }
            guard end < payload.endIndex, payload[end] == UInt8(ascii: "\n") else { return .missing }
            line = end + 1
        }
        return .missing
    }

    /// The date of an ident ("Name <email> 1700000000 +0000"), as ident.c `split_ident_line`.
    static func identTime(_ ident: ArraySlice<UInt8>) -> CommitterTime {
        guard let open = ident.firstIndex(of: UInt8(ascii: "<")),
            ident[(open + 1)...].contains(UInt8(ascii: ">")), let close = ident.lastIndex(of: UInt8(ascii: ">"))
        else { return .missing }
        let isSpace = { (byte: UInt8) in byte == 0x20 || (0x09...0x0d).contains(byte) }
        let isDigit = { (byte: UInt8) in (0x30...0x39).contains(byte) }
        var cursor = ident[(close + 1)...].drop(while: isSpace)
        let digits = cursor.prefix(while: isDigit)
        guard !digits.isEmpty else { return .undated }
        cursor = cursor.dropFirst(digits.count).drop(while: isSpace)
        guard let sign = cursor.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
            cursor.dropFirst().first.map(isDigit) == true
        else { return .undated }
        // parse_timestamp is strtoumax: saturates.
        var seconds: UInt64 = 0
        for digit in digits {
            let (times, overflow) = seconds.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(digit - 0x30))
            if overflow || carry { return .at(.max) }
            seconds = sum
        }
        return seconds == 0 ? .undated : .at(seconds)
    }
}
