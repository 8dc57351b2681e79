import Foundation
import JailPilot
import Testing

/// What SecretRedactor cuts: a value in each form an app prints it, and nothing else.
@Suite struct SecretRedactorTests {
    let cut = SecretRedactor.placeholder

    @Test func aValueIsCutInEachFormAnAppPrintsIt() {
        let secret = #"p"a\ss/wörd 😀&x"#
        let redactor = SecretRedactor(values: [secret])
        func same(_ printed: String, _ line: String = #function) {
            let text = "before \(printed) after"
            #expect(redactor.redact(text) == "before \(cut) after", "\(printed)")
        }
        same(secret)
        // JSON as JSONSerialization, Go (HTML-safe) and Python (ASCII) write it.
        same(#"p\"a\\ss\/wörd 😀&x"#)
        same(#"p\"a\\ss/w\u00f6rd \ud83d\ude00\u0026x"#)
        same(#"p\u0022a\u005css/w\u00F6rd \uD83D\uDE00&x"#)
        same(#"p\"a\\ss/w\xc3\xb6rd \xf0\x9f\x98\x80&x"#)
        // Percent-encoded as a query (+ for space), as a path (%20), in lower case.
        same("p%22a%5Css%2Fw%C3%B6rd+%F0%9F%98%80%26x")
        same("p%22a%5Css/w%c3%b6rd%20%f0%9f%98%80&x")
        // JSON inside a URL, a URL inside JSON.
        same("p%5C%22a%5C%5Css%2Fw%C3%B6rd%20%F0%9F%98%80%26x")
        // base64 alone, at each offset inside a longer run, URL-safe; hex.
        for prefix in ["", "u", "us", "user:"] {
            let encoded = Data((prefix + secret).utf8).base64EncodedString()
            same(encoded)
            same(encoded.replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: ""))
        }
        same(Array(secret.utf8).map { String(format: "%02x", $0) }.joined())
        same(Array(secret.utf8).map { String(format: "%02X", $0) }.joined())
    }

    @Test func aMultiLineValueIsCutWholeAndLineByLine() {
        let key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQC7\nb/UJ+f9zq0K\n-----END KEY-----\n"
        let redactor = SecretRedactor(values: [key])
        #expect(redactor.redact("key: \(key)done") == "key: \(cut)done")
        #expect(redactor.redact("line b/UJ+f9zq0K of it") == "line \(cut) of it", "one line on its own")
        #expect(redactor.redact("  AAAAB3NzaC1yc2EAAAADAQABAAABAQC7\r\n") == "  \(cut)\r\n")
        let json = "{\"key\":\"" + key.replacing("\n", with: "\\n") + "\"}"
        #expect(redactor.redact(json) == "{\"key\":\"\(cut)\"}")
    }

    @Test func shortValuesAndOtherTextAreLeftAlone() {
        let redactor = SecretRedactor(values: ["ab", "hunter2", ""])
        #expect(redactor.redact("ab cd hunter3 hunte r2") == "ab cd hunter3 hunte r2")
        #expect(redactor.redact("a\\tb %zz \\u12 %4") == "a\\tb %zz \\u12 %4", "malformed escapes are text")
        #expect(redactor.redact("x=hunter2;y=hunter2") == "x=\(cut);y=\(cut)")
        #expect(SecretRedactor(values: []).redact("hunter2") == "hunter2")
    }
}
