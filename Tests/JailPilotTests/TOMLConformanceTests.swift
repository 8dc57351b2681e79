import JailPilot
import Testing

/// The classes of input a TOML conformance suite found accepted or crashing: each is refused
/// with a line and column, from the TOML 1.0 specification, and none can exhaust the stack.
@Suite struct TOMLConformanceTests {
    private func rejected(_ text: String) -> Bool {
        rejectedBytes(Array(text.utf8))
    }

    private func rejectedBytes(_ bytes: [UInt8]) -> Bool {
        do {
            _ = try TOMLDocument(parsingBytes: bytes)
            return false
        } catch is TOMLSyntaxError {
            return true
        } catch {
            return false
        }
    }

    @Test(arguments: [
        "d = 1987-13-05", "d = 1987-00-05", "d = 2100-02-29", "d = 2023-04-31", "d = 1987-07-32",
        "t = 24:00:00", "t = 17:60:00", "t = 17:45:61", "d = 1987-07-05T17:45:00+25:00",
        "d = 1987-07-05T17:45:00+09:60", "d = 1987-07-05T17:45Z", "d = 1987-07-0517:45:00Z",
        "d = 1987-07-05T7:45:00Z", "d = 1987-07-05T17:45:00.Z", "d = 1987-07-05T17:45:00Zjunk",
        "d = 1987-07-05T17:45:00+09", "t = 17:45:00Z", "d = 1987-7-05",
    ])
    func outOfRangeOrMalformedDatesAndTimesAreRefused(_ line: String) {
        #expect(rejected(line), "accepted: \(line)")
    }

    @Test(arguments: [
        "d = 2000-02-29", "d = 1987-07-05T17:45:00Z", "d = 1987-07-05t17:45:00z", "d = 1987-07-05 17:45:00.999-07:00",
        "t = 23:59:60", "d = 1987-12-31",
    ])
    func validDatesAndTimesStillParse(_ line: String) {
        #expect(!rejected(line), "refused: \(line)")
    }

    @Test(arguments: ["n = 0x-1", "n = 0o-7", "n = 0b+1", "n = 0x+f", "n = +0x1", "n = 0o8", "n = 0b2"])
    func signedOrWrongDigitBasePrefixedIntegersAreRefused(_ line: String) {
        #expect(rejected(line), "accepted: \(line)")
    }

    @Test func unicodeEscapesTakeHexDigitsOnly() throws {
        #expect(rejected(#"s = "\u+041""#))
        #expect(rejected(#"s = "\U+0001F60""#))
        #expect(try TOMLDocument(parsing: #"s = "\u0041""#).root["s"]?.string == "A")
    }

    @Test func controlCharactersInCommentsInsideArraysAreRefused() {
        #expect(rejected("a = [\n  1, # a \u{7f} comment\n  2,\n]"))
        #expect(rejected("a = [ # \u{01}\n 1 ]"))
        #expect(!rejected("a = [ # a\tcomment\n 1 ]"))
    }

    @Test func invalidUTF8IsRefusedWithItsLine() throws {
        let cases: [[UInt8]] = [
            Array("a = \"".utf8) + [0xFF] + Array("\"".utf8),  // never valid
            Array("a = \"".utf8) + [0xC0, 0xAF] + Array("\"".utf8),  // overlong '/'
            Array("a = \"".utf8) + [0xED, 0xA0, 0x80] + Array("\"".utf8),  // a surrogate
            Array("a = \"".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("\"".utf8),  // above U+10FFFF
            Array("a = \"".utf8) + [0xE2, 0x82] + Array("\"".utf8),  // truncated
            Array("# comment ".utf8) + [0x80],
        ]
        for bytes in cases { #expect(rejectedBytes(bytes), "accepted \(bytes)") }
        do {
            _ = try TOMLDocument(parsingBytes: Array("a = 1\nb = 2\nc = \"".utf8) + [0xFE, 0x22])
            Issue.record("invalid UTF-8 accepted")
        } catch let error as TOMLSyntaxError {
            #expect(error.line == 3)
            #expect(error.message.contains("UTF-8"))
        }
        #expect(try TOMLDocument(parsingBytes: Array("a = \"é 😀\"".utf8)).root["a"]?.string == "é 😀")
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let depth = 40_000
        for (open, close) in [("[", "]"), ("{a=", "}"), ("[{a=", "}]")] {
            let text = "x = " + String(repeating: open, count: depth) + "1" + String(repeating: close, count: depth)
            do {
                _ = try TOMLDocument(parsing: text)
                Issue.record("\(open) nested \(depth) deep was accepted")
            } catch let error as TOMLSyntaxError {
                #expect(error.message.contains("nested more than"))
            } catch {
                Issue.record("\(error)")
            }
        }
        let ok = "x = " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(!rejected(ok))
    }

    @Test func longDottedKeysAreRefusedAtOnce() {
        // 10,000 parts took 2.9 s of quadratic work before; now the key is refused at part 129.
        let key = (0..<10_000).map { _ in "a" }.joined(separator: ".")
        #expect(rejected("\(key) = 1"))
        #expect(rejected("[\(key)]"))
        #expect(rejected("x = { \(key) = 1 }"))
        #expect(!rejected((0..<100).map { _ in "a" }.joined(separator: ".") + " = 1"))
    }

    @Test func configFileThatIsNotUTF8IsRefusedWithFileAndLine() throws {
        let scratch = try Scratch("conf")
        let path = "\(scratch.path)/agent.conf"
        let bytes = Array("[agent]\nstate_dir = \"/var/db/".utf8) + [0xFF] + Array("\"\n".utf8)
        try bytes.withUnsafeBytes { try FileIO.create(path, bytes: $0, mode: 0o644) }
        #expect {
            try ConfigLoader.load(path: path)
        } throws: { error in
            "\(error)".contains("\(path):2") && "\(error)".contains("UTF-8")
        }
    }
}
