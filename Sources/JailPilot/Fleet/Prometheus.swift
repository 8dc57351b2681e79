import FoundationEssentials

/// One series of an instant query's answer.
public struct PrometheusSample: Sendable, Equatable {
    public var labels: [String: String]
    public var value: Double

    public init(labels: [String: String], value: Double) {
        self.labels = labels
        self.value = value
    }
}

/// A Prometheus server's HTTP API (`/api/v1/query`), asked through curl(1): any URL works (a
/// name, https, a reverse proxy), and nothing of ours listens or stays running.
public struct PrometheusAPI: Sendable {
    public var url: String
    let runner: any ProcessRunning
    public static let timeout: Duration = .seconds(15)

    public init(url: String, runner: any ProcessRunning = HostProcessRunner()) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.runner = runner
    }

    /// The instant vector `promql` evaluates to now.
    public func query(_ promql: String) async throws -> [PrometheusSample] {
        let command = Command(
            "curl",
            [
                "--disable", "--silent", "--show-error", "--fail-with-body", "--max-time", "\(Int(Self.timeout.seconds))",
                "--get", "--data-urlencode", "query=\(promql)", "\(url)/api/v1/query",
            ])
        let result = try await runner.run(command, stdout: .capture, stderr: .capture, timeout: Self.timeout + .seconds(5))
        guard result.succeeded else {
            throw PrometheusError(
                message:
                    "\(url) did not answer the query \(promql): \(result.stderrText.trimmedWhitespace.prefix(200)) \(result.stdoutText.prefix(300))"
            )
        }
        return try Self.parse(Data(result.stdoutText.utf8), query: promql)
    }

    /// The samples of an `/api/v1/query` answer of type vector.
    public static func parse(_ data: Data, query: String = "") throws -> [PrometheusSample] {
        guard let answer = JSONValue.parse(data)?.object, case .string("success")? = answer["status"],
            let body = answer["data"]?.object, case .array(let results)? = body["result"]
        else {
            throw PrometheusError(
                message: "not a Prometheus answer to \(query): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return results.compactMap { item in
            guard let item = item.object, case .array(let pair)? = item["value"], pair.count == 2,
                case .string(let text) = pair[1], let value = Double(text)
            else { return nil }
            var labels: [String: String] = [:]
            for (name, label) in item["metric"]?.object ?? [:] {
                if case .string(let text) = label { labels[name] = text }
            }
            return PrometheusSample(labels: labels, value: value)
        }
    }
}

/// Prometheus could not be asked, or did not answer as Prometheus does.
public struct PrometheusError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
