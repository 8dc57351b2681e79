/// The time an SSH signature is verified at: the commit's committer time, as git verifies it
/// (gpg-interface.c `verify_ssh_signed_buffer`, git 2.39: `-Overify-time=` the payload's
/// committer date for find-principals and verify alike). git writes it as local time without
/// a zone, which ssh-keygen reads as local time; this writes the same instant in UTC with the
/// `Z` ssh-keygen(1) takes for UTC, so neither side's TZ matters.
struct SignatureTime: Sendable, Equatable {
    /// Seconds since the epoch.
    let seconds: Int64
    let year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64

    /// The committer's time; nil when the committer date is out of the years ssh-keygen reads
    /// (1000 to 9999), which git's ssh-keygen call fails on too.
    init?(seconds raw: UInt64) {
        // git's `time_t t = time`: the same bits, signed.
        let seconds = Int64(truncatingIfNeeded: raw)
        let (days, rest) = (seconds.quotientAndRemainder(dividingBy: 86400))
        let (day, secondOfDay) = rest < 0 ? (days - 1, rest + 86400) : (days, rest)
        // Howard Hinnant's civil_from_days.
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard (1000...9999).contains(year) else { return nil }
        self.seconds = seconds
        self.year = year
        self.month = month
        self.day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
    }

    private func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// ssh-keygen's option: `-Overify-time=20200601120000Z`.
    var option: String {
        "-Overify-time=\(year)\(two(month))\(two(day))\(two(hour))\(two(minute))\(two(second))Z"
    }

    /// For people: `2020-06-01T12:00:00Z`.
    var iso: String { "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))Z" }
}
