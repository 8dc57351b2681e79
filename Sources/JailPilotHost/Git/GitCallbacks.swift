import CGit2
import FoundationEssentials
import JailPilotCore

/// State libgit2's callbacks need: credentials to offer and host keys to check.
///
/// Lives for one connect or fetch; libgit2 gets it as an unretained payload pointer.
final class GitCallbacks {
    let access: RemoteAccess
    var credentialAttempts = 0
    /// Why a callback refused, reported instead of libgit2's generic message.
    var refusal: String?
    /// Why the remote refused a pushed ref (push_update_reference's status), if it did.
    var pushRejection: String?

    init(access: RemoteAccess) { self.access = access }

    /// Fills `callbacks` with this object's handlers; keep `self` alive while they are in use.
    func install(into callbacks: inout git_remote_callbacks) {
        callbacks.payload = Unmanaged.passUnretained(self).toOpaque()
        callbacks.credentials = { out, url, usernameFromURL, allowed, payload in
            guard let payload, let out else { return -1 }
            let me = Unmanaged<GitCallbacks>.fromOpaque(payload).takeUnretainedValue()
            return me.credential(out, url: url.map { String(cString: $0) }, usernameFromURL.map { String(cString: $0) }, allowed)
        }
        callbacks.push_update_reference = { refname, status, payload in
            guard let payload, let status else { return 0 }
            let me = Unmanaged<GitCallbacks>.fromOpaque(payload).takeUnretainedValue()
            me.pushRejection = "\(refname.map { String(cString: $0) } ?? "the ref"): \(String(cString: status))"
            return 0
        }
        callbacks.certificate_check = { cert, valid, host, payload in
            guard let payload, let cert else { return -1 }
            let me = Unmanaged<GitCallbacks>.fromOpaque(payload).takeUnretainedValue()
            return me.check(cert, valid: valid != 0, host: host.map { String(cString: $0) } ?? "")
        }
    }

    /// Wraps a libgit2 failure with the callback's own reason when it refused.
    func error(_ error: GitError) -> GitError {
        guard let refusal else { return error }
        return GitError(call: error.call, code: error.code, message: refusal, hint: nil)
    }

    private func credential(
        _ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>, url: String?, _ user: String?, _ allowed: UInt32
    ) -> Int32 {
        // libgit2 follows a remote's HTTP redirects and then asks for credentials for wherever it
        // landed: a token goes only to the scheme, host and port the app's repo names.
        if let want = RemoteAccess.origin(access.url) {
            let asked = url.flatMap(RemoteAccess.origin)
            guard asked == want else {
                refusal =
                    "\(access.redactedURL) sent the request on to \(url.map(RemoteAccess.redact) ?? "another place"); credentials are only sent to \(want), so none were given. Point repo at the final address if the move is expected"
                return Int32(GIT_EAUTH.rawValue)
            }
        }
        credentialAttempts += 1
        if credentialAttempts > 1 {
            refusal = "authentication to \(access.redactedURL) was refused; check the credentials configured for this app"
            return Int32(GIT_EAUTH.rawValue)
        }
        if allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 {
            let name = user ?? "git"
            if let key = access.sshKey {
                guard FileManager.default.isReadableFile(atPath: key) else {
                    refusal = "ssh_key \(key) is not readable by the agent"
                    return -1
                }
                return git_credential_ssh_key_new(out, name, nil, key, nil)
            }
            return git_credential_ssh_key_from_agent(out, name)
        }
        if allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 {
            guard let file = access.tokenFile else {
                refusal = "\(access.redactedURL) asks for credentials; set token_file for this app"
                return Int32(GIT_EAUTH.rawValue)
            }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                let token = text.split(whereSeparator: \.isNewline).first.map(String.init), !token.isEmpty
            else {
                refusal = "token_file \(file) is missing, unreadable or empty"
                return -1
            }
            return git_credential_userpass_plaintext_new(out, access.tokenUser, token)
        }
        if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0 {
            return git_credential_username_new(out, user ?? "git")
        }
        refusal = "\(access.redactedURL) asks for a kind of credential jailpilot does not offer"
        return Int32(GIT_EAUTH.rawValue)
    }

    private func check(_ cert: UnsafeMutablePointer<git_cert>, valid: Bool, host: String) -> Int32 {
        guard cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 else {
            // TLS: libgit2's own verification against the system trust store decides.
            return Int32(GIT_PASSTHROUGH.rawValue)
        }
        let hostkey = UnsafeMutableRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        guard hostkey.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let raw = hostkey.hostkey else {
            refusal = "the SSH server \(host) did not present a raw host key to verify"
            return Int32(GIT_ECERTIFICATE.rawValue)
        }
        let key = Array(UnsafeRawBufferPointer(start: raw, count: hostkey.hostkey_len))
        let file = access.knownHosts
        switch KnownHosts.load(path: file).verify(host: host, port: access.sshPort, key: key) {
        case .trusted:
            return 0
        case .unknownHost:
            let target = access.sshPort == 22 ? host : "-p \(access.sshPort) \(host)"
            refusal = "host key of \(host) is not in \(file); check it out of band, then add it: ssh-keyscan \(target) >> \(file)"
        case .changed:
            refusal =
                "host key of \(host) does not match \(file): it CHANGED (possible man-in-the-middle); refusing to connect. If the change is expected, replace the entry in \(file)"
        case .revoked:
            refusal = "host key of \(host) is marked @revoked in \(file); refusing to connect"
        }
        return Int32(GIT_ECERTIFICATE.rawValue)
    }
}
