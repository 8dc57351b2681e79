import FoundationEssentials
import Glibc

extension Doctor {
    /// What webhooks and notifications need: their secret files, curl for https receivers, and
    /// the webhook listener's port free (or the running agent's).
    func reachChecks() -> [HostCheck] {
        let freebsd = runtime.config.agent.platform == .freebsd
        var checks: [HostCheck] = []
        for app in runtime.config.apps {
            guard let secret = app.webhookSecret else { continue }
            let readable = access(secret, R_OK) == 0
            checks.append(
                HostCheck(
                    "webhook secret of \(app.name)", ok: readable, readable ? secret : "\(secret) cannot be read",
                    fix: "write the secret your forge signs with as the first line of \(secret) (chmod 600)"))
        }
        let notify = runtime.config.agent.notify
        for target in notify {
            let readable = access(target.secretFile, R_OK) == 0
            checks.append(
                HostCheck(
                    "notify key for \(Notifier.label(target.url))", ok: readable,
                    readable ? target.secretFile : "\(target.secretFile) cannot be read",
                    fix: "write the key you share with the receiver as the first line of \(target.secretFile) (chmod 600)"))
        }
        if notify.contains(where: { $0.url.hasPrefix("https://") }) {
            let found = (try? HostProcessRunner.resolve("curl", path: "/usr/local/bin:/usr/bin:/bin")) != nil
            checks.append(
                HostCheck(
                    "curl", ok: found,
                    found ? "sends notifications to https receivers" : "not found in /usr/local/bin:/usr/bin:/bin",
                    fix: freebsd ? "pkg install curl" : "apt-get install curl"))
        }
        return checks
    }
}
