import Foundation
import JailPilot
import Testing

/// SHA-256 and HMAC-SHA256 as webhook and notification signatures need them: FIPS 180-4's and
/// RFC 4231's vectors, and agreement with Python's hashlib/hmac on random keys and messages.
@Suite struct SHA256Tests {
    @Test func fips180Vectors() {
        #expect(SHA256.hash(Array("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([UInt8]()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hexString
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func rfc4231Vectors() {
        #expect(
            SHA256.hmac(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)).hexString
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            SHA256.hmac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)).hexString
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(
            SHA256.hmac(
                key: [UInt8](repeating: 0xaa, count: 131),
                message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
            ).hexString == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test(.enabled(if: have("python3"), "needs python3")) func agreesWithPythonOnRandomInput() async throws {
        var generator = SystemRandomNumberGenerator()
        var lines: [String] = []
        var ours: [String] = []
        for _ in 0..<200 {
            // Lengths around the block edges (55, 56, 63, 64, 119…) as well as anything else.
            let length = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, Int.random(in: 0...3000)].randomElement()!
            let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let key = (0..<Int.random(in: 0...150)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            lines.append("\(key.hexString) \(message.hexString)")
            ours.append("\(SHA256.hash(message).hexString) \(SHA256.hmac(key: key, message: message).hexString)")
        }
        let script = """
            import sys, hashlib, hmac
            for line in sys.stdin.read().split("\\n"):
                k, m = (bytes.fromhex(x) for x in line.split(" "))
                print(hashlib.sha256(m).hexdigest(), hmac.new(k, m, hashlib.sha256).hexdigest())
            """
        let scratch = try Scratch("sha256")
        let input = try scratch.write("input", lines.joined(separator: "\n"))
        let result = try await HostProcessRunner().run(
            Command("python3", ["-c", script], input: input), stdout: .capture, stderr: .capture, timeout: .seconds(30))
        #expect(result.succeeded, "\(result.stderrText)")
        #expect(result.stdoutText.split(separator: "\n").map(String.init) == ours)
    }

    @Test func constantTimeEqualityIsEquality() {
        #expect(constantTimeEquals(Array("secret".utf8), Array("secret".utf8)))
        #expect(!constantTimeEquals(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!constantTimeEquals(Array("secret".utf8), Array("secret!".utf8)))
        #expect(!constantTimeEquals([], [0]))
        #expect(constantTimeEquals([], []))
    }
}
