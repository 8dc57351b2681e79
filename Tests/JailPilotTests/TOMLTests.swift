import JailPilot
import Testing

/// agent.conf is read by jailpilot's own TOML parser: these pin the TOML 1.0 forms an ops person
/// may write, and the errors for what TOML forbids.
@Suite struct TOMLTests {
    private func parse(_ text: String) throws -> TOMLTable { try TOMLDocument(parsing: text).root }

    private func syntaxError(_ text: String) -> TOMLSyntaxError? {
        do {
            _ = try TOMLDocument(parsing: text)
            return nil
        } catch let error as TOMLSyntaxError {
            return error
        } catch {
            return nil
        }
    }

    @Test func stringsInEveryForm() throws {
        let root = try parse(
            #"""
            basic = "tab\there \"quoted\" \u00e9 \U0001F600 back\\slash"
            literal = 'C:\path\no escapes'
            multi = """
            one
            two \
               joined"""
            raw = '''
            keep \n as is'''
            quotes = """a "" b"""""
            "quoted key" = 1
            'literal key' = 2
            """#)
        #expect(root["basic"]?.string == "tab\there \"quoted\" é 😀 back\\slash")
        #expect(root["literal"]?.string == #"C:\path\no escapes"#)
        #expect(root["multi"]?.string == "one\ntwo joined")
        #expect(root["raw"]?.string == #"keep \n as is"#)
        #expect(root["quotes"]?.string == #"a "" b"""#)
        #expect(root["quoted key"]?.int == 1)
        #expect(root["literal key"]?.int == 2)
    }

    @Test func numbersBooleansAndDates() throws {
        let root = try parse(
            """
            a = 42
            b = -17
            c = 1_000
            d = 0xff
            e = 0o17
            f = 0b101
            g = 3.25
            h = 1e3
            i = true
            j = false
            k = 1979-05-27T07:32:00Z
            l = 1979-05-27 07:32:00
            m = 07:32:00
            """)
        #expect(root["a"]?.int == 42)
        #expect(root["b"]?.int == -17)
        #expect(root["c"]?.int == 1000)
        #expect(root["d"]?.int == 255)
        #expect(root["e"]?.int == 15)
        #expect(root["f"]?.int == 5)
        if case .float(let g)? = root["g"] { #expect(g == 3.25) } else { Issue.record("g is not a float") }
        if case .float(let h)? = root["h"] { #expect(h == 1000) } else { Issue.record("h is not a float") }
        #expect(root["i"]?.bool == true)
        #expect(root["j"]?.bool == false)
        if case .datetime(let k)? = root["k"] { #expect(k == "1979-05-27T07:32:00Z") } else { Issue.record("k") }
        if case .datetime(let l)? = root["l"] { #expect(l == "1979-05-27 07:32:00") } else { Issue.record("l") }
        if case .datetime(let m)? = root["m"] { #expect(m == "07:32:00") } else { Issue.record("m") }
    }

    @Test func tablesArraysAndInlineTables() throws {
        let document = try TOMLDocument(
            parsing: """
                # comment line
                title = "x" # trailing comment
                [apps.hello]
                hostnames = [
                  "a.example",  # one
                  "b.example",
                ]
                build_env = { CGO_ENABLED = "0", GOFLAGS = "-trimpath" }
                site.name = "dotted"

                [apps."other-app"]
                repo = "https://example.invalid/x.git"

                [[servers]]
                name = "one"
                [[servers]]
                name = "two"
                """)
        let root = document.root
        let hello = try #require(root["apps"]?.table?["hello"]?.table)
        #expect(hello["hostnames"]?.array?.compactMap(\.string) == ["a.example", "b.example"])
        #expect(hello["build_env"]?.table?["GOFLAGS"]?.string == "-trimpath")
        #expect(hello["site"]?.table?["name"]?.string == "dotted")
        #expect(root["apps"]?.table?.keys == ["hello", "other-app"])
        #expect(root["servers"]?.array?.compactMap { $0.table?["name"]?.string } == ["one", "two"])
        #expect(document.lines["apps.hello"] == 3)
        #expect(document.lines["apps.hello.build_env"] == 8)
        #expect(document.lines["apps.other-app.repo"] == 12)
    }

    @Test func crlfLineEndingsAndByteOrderMark() throws {
        let root = try parse("\u{FEFF}a = 1\r\n[t]\r\nb = \"x\"\r\n")
        #expect(root["a"]?.int == 1)
        #expect(root["t"]?.table?["b"]?.string == "x")
    }

    @Test func whatTOMLForbidsIsRefusedWithLineAndColumn() throws {
        let cases: [(String, Int, String)] = [
            ("a = 1\na = 2", 2, "defined twice (first on line 1)"),
            ("[t]\nx = 1\n[t]\ny = 2", 3, "the table [t] is defined twice"),
            ("a = 1\n[a]", 2, "already an integer"),
            ("a = \"open", 1, "unterminated string"),
            ("a = hello", 1, "is not a value"),
            ("a = 1 2", 1, "expected the end of the line"),
            ("a = [1, 2", 1, "expected ',' or ']'"),
            ("a = { b = 1,\n c = 2 }", 1, "expected a key"),
            ("= 1", 1, "expected a key"),
            ("a 1", 1, "expected '='"),
            ("a = 01", 1, "is not a value"),
            ("a = 1__0", 1, "is not a value"),
            ("a = \"bad \\q escape\"", 1, "invalid escape"),
            ("t = { x = 1 }\n[t]", 2, "the table [t] is defined twice"),
            ("[t]\nx = 1\n[u]\nt.y = 2\n[t.x]", 5, "already an integer"),
        ]
        for (text, line, message) in cases {
            let error = try #require(syntaxError(text), "accepted: \(text)")
            #expect(error.line == line, "\(text): \(error)")
            #expect(error.message.contains(message), "\(text): \(error)")
        }
    }

    @Test func errorColumnPointsAtTheProblem() throws {
        let error = try #require(syntaxError("ok = 1\nport = 80 80\n"))
        #expect(error.line == 2)
        #expect(error.column == 11)
    }
}
