/// Where a StreamServer listens: `127.0.0.1:PORT` (loopback only) or a unix socket path.
/// `StreamServer.Address` names it; it is here, below the listener, because agent.conf's
/// `[webhook] listen` is checked with it when the config is read.
public enum StreamServerAddress: Sendable, Equatable, CustomStringConvertible {
    case loopback(port: UInt16)
    case unix(path: String)

    /// The longest unix socket path: sun_path is 104 bytes on FreeBSD (sys/sys/un.h) and
    /// 108 on Linux, less the terminating NUL.
    public static let longestPath = 103

    /// `127.0.0.1:PORT` (also `localhost:PORT`) or an absolute path; nil for anything else.
    public init?(_ text: String) {
        if text.hasPrefix("/") {
            guard text.utf8.count <= Self.longestPath else { return nil }
            self = .unix(path: text)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0,
            ["127.0.0.1", "localhost"].contains(text[..<colon])
        else { return nil }
        self = .loopback(port: port)
    }

    public var description: String {
        switch self {
        case .loopback(let port): "127.0.0.1:\(port)"
        case .unix(let path): path
        }
    }
}
