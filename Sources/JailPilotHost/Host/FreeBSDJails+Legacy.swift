import FoundationEssentials
import Glibc
import JailPilotCore

/// What versions before the VNET change left under /etc, put right when the agent starts.
///
/// They kept each release's jail.conf in /etc/jail.conf.d and the live ones in a boot list,
/// `/etc/rc.conf.d/jail/jailpilot_<id>` (`jail_list="${jail_list} …"`). rc.d/jail starts
/// `${jail_list:-_ALL}`, so once that file made jail_list non-empty, an operator's jails that
/// booted because jail_list was empty stopped booting. Now the agent starts its live releases
/// itself and keeps its jail.conf files in the state_dir: the boot list is removed and this
/// state_dir's files are moved (a running jail is stopped later with the moved file, which is
/// the one it was made from).
extension FreeBSDJails {
    var legacyBootList: String { "\(paths.rcConfDir)/jail/jailpilot_\(owner.id)" }

    /// Removes the old boot list and moves the jail.conf files of `names` (this state_dir's
    /// jails) out of /etc/jail.conf.d. Files whose first line jailpilot did not write are left.
    func moveLegacyFiles(of names: [String]) throws -> [String] {
        var moved: [String] = []
        if FileIO.exists(legacyBootList) {
            guard unlink(legacyBootList) == 0 || errno == ENOENT else {
                throw HostStepError(step: "rm \(legacyBootList)", message: String(cString: strerror(errno)))
            }
            moved.append(legacyBootList)
        }
        for name in names {
            let old = "\(paths.legacyJailConfDir)/\(name).conf"
            guard let text = try? FileIO.readText(old), text.hasPrefix("# Written by jailpilot for ") else { continue }
            try FileIO.makeDirectories(jailConfDir, mode: 0o750)
            let new = conf(name)
            if FileIO.exists(new) {
                unlink(old)
            } else if rename(old, new) != 0 {
                throw HostStepError(step: "mv \(old) \(new)", message: String(cString: strerror(errno)))
            }
            moved.append(old)
        }
        return moved
    }

    /// At agent start: what earlier versions left for rc.d/jail, for every jail this state_dir owns.
    public func syncBootList(_ live: [JailSpec]) async throws {
        let owned = await ownedJails().map(\.name)
        _ = try moveLegacyFiles(of: Array(Set(owned + live.map(\.name))))
    }
}
