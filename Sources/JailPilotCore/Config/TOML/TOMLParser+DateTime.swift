extension TOMLParser {
    /// Why `b` is not a TOML 1.0 date, time or date-time (RFC 3339 with TOML's forms: offset or
    /// local date-time, local date, local time), or nil when it is one. Every field is checked
    /// against the calendar: month 13, 29 February 2100, second 61 and offset +25:00 are refused.
    static func dateTimeProblem(_ b: [UInt8]) -> String? {
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                value = value * 10 + Int(c - 0x30)
            }
            i += count
            return value
        }
        func take(_ char: Unicode.Scalar) -> Bool {
            guard i < b.count, b[i] == UInt8(ascii: char) else { return false }
            i += 1
            return true
        }
        var hasDate = false
        if b.count >= 5 && b[4] == UInt8(ascii: "-") {
            guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2) else {
                return "write a date as YYYY-MM-DD"
            }
            guard (1...12).contains(month) else { return "there is no month \(month)" }
            let days = daysIn(month: month, year: year)
            guard (1...days).contains(day) else { return "month \(month) of \(year) has \(days) days" }
            if i == b.count { return nil }
            guard take("T") || take("t") || take(" ") else { return "separate the date and the time with 'T'" }
            hasDate = true
        }
        guard let hour = number(2), take(":"), let minute = number(2), take(":"), let second = number(2) else {
            return "write a time as HH:MM:SS (seconds are required)"
        }
        guard hour <= 23 else { return "there is no hour \(hour)" }
        guard minute <= 59 else { return "there is no minute \(minute)" }
        guard second <= 60 else { return "there is no second \(second)" }
        if take(".") {
            let start = i
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard i > start else { return "a '.' in a time must be followed by digits" }
        }
        if i == b.count { return nil }
        guard hasDate else { return "a time without a date takes no offset" }
        if take("Z") || take("z") { return i == b.count ? nil : "nothing may follow the 'Z'" }
        guard take("+") || take("-") else { return "expected Z or an offset like +09:00 after the time" }
        guard let offsetHour = number(2), take(":"), let offsetMinute = number(2), i == b.count else {
            return "write the offset as Z or +HH:MM"
        }
        guard offsetHour <= 23, offsetMinute <= 59 else { return "the offset \(offsetHour):\(offsetMinute) is out of range" }
        return nil
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
