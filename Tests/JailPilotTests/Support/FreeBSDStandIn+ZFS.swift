import Foundation
import JailPilot

/// zfs(8) subcommands the driver uses; caller holds the lock.
extension FreeBSDStandIn {
    func zfs(_ argv: [String]) -> ProcessResult {
        guard let verb = argv.first else { return fail("missing command", status: 2) }
        var args = Array(argv.dropFirst())
        switch verb {
        case "clone":
            var properties: [String: String] = [:]
            while args.first == "-o", args.count >= 2 {
                let pair = args[1].split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { return fail("missing '=' for property argument", status: 2) }
                properties[pair[0]] = pair[1]
                args.removeFirst(2)
            }
            guard args.count == 2 else { return fail("missing source or target", status: 2) }
            let (source, target) = (args[0], args[1])
            guard let origin = snapshots[source] else { return fail("cannot open '\(source)': dataset does not exist") }
            guard datasets[target] == nil else { return fail("cannot create '\(target)': dataset already exists") }
            let parent = String(target.prefix(upTo: target.lastIndex(of: "/") ?? target.startIndex))
            guard let parentSet = datasets[parent] else { return fail("cannot create '\(target)': parent does not exist") }
            let mount = "\(parentSet.mountpoint)/\(target.split(separator: "/").last ?? "")"
            guard let from = datasets[origin]?.mountpoint,
                (try? HostProcessRunnerSync.copyTree(from: from, to: mount)) == true
            else { return fail("cannot mount '\(mount)': failed to create mountpoint") }
            datasets[target] = Dataset(mountpoint: mount, properties: properties, origin: source)
            return ok()
        case "create":
            // zfs create [-p] [-o prop=value] NAME, mounted under its parent's mountpoint.
            let parents = args.first == "-p"
            if parents { args.removeFirst() }
            var properties: [String: String] = [:]
            while args.first == "-o", args.count >= 2 {
                let pair = args[1].split(separator: "=", maxSplits: 1).map(String.init)
                properties[pair[0]] = pair.count == 2 ? pair[1] : ""
                args.removeFirst(2)
            }
            guard args.count == 1 else { return fail("usage: create [-p] [-o property=value] filesystem", status: 2) }
            let name = args[0]
            if datasets[name] != nil { return parents ? ok() : fail("cannot create '\(name)': dataset already exists") }
            let parent = String(name.prefix(upTo: name.lastIndex(of: "/") ?? name.startIndex))
            guard let parentSet = datasets[parent] else { return fail("cannot create '\(name)': parent does not exist") }
            let mount = "\(parentSet.mountpoint)/\(name.split(separator: "/").last ?? "")"
            guard (try? FileIO.makeDirectories(mount)) != nil else { return fail("cannot mount '\(mount)'") }
            datasets[name] = Dataset(mountpoint: mount, properties: properties, origin: nil)
            return ok()
        case "snapshot":
            // The snapshot's content is a copy, kept beside the pool.
            guard args.count == 1, let at = args[0].firstIndex(of: "@"), let dataset = datasets[String(args[0][..<at])] else {
                return fail("cannot open '\(args.first ?? "")': dataset does not exist")
            }
            guard snapshots[args[0]] == nil else { return fail("cannot create snapshot '\(args[0])': dataset already exists") }
            let copy = "\(root)/snapshots/\(args[0].replacingOccurrences(of: "/", with: "_"))"
            try? FileIO.makeDirectories("\(root)/snapshots")
            guard (try? HostProcessRunnerSync.copyTree(from: dataset.mountpoint, to: copy)) == true else {
                return fail("cannot create snapshot '\(args[0])'")
            }
            snapshots[args[0]] = String(args[0][..<at])
            return ok()
        case "rollback":
            // zfs rollback -r DS@SNAP: the content back, and every newer snapshot destroyed.
            guard args.count == 2, args[0] == "-r", let dataset = snapshots[args[1]], let set = datasets[dataset] else {
                return fail("cannot open '\(args.last ?? "")': dataset does not exist")
            }
            let copy = "\(root)/snapshots/\(args[1].replacingOccurrences(of: "/", with: "_"))"
            try? FileIO.removeTree(set.mountpoint)
            guard (try? HostProcessRunnerSync.copyTree(from: copy, to: set.mountpoint)) == true else {
                return fail("rollback failed")
            }
            let order = snapshotOrder
            let position = order.firstIndex(of: args[1]) ?? order.count
            for newer in order.dropFirst(position + 1) where snapshots[newer] == dataset { snapshots[newer] = nil }
            return ok()
        case "list":
            var fields = ["name"]
            var depth: Int?
            while let flag = args.first, flag.hasPrefix("-") {
                switch flag {
                case "-H", "-p": args.removeFirst()
                case "-o": fields = args[1].split(separator: ",").map(String.init); args.removeFirst(2)
                case "-t": args.removeFirst(2)
                case "-d": depth = Int(args[1]); args.removeFirst(2)
                default: return fail("invalid option '\(flag)'", status: 2)
                }
            }
            if let name = args.first, name.contains("@") {
                return snapshots[name] != nil ? ok("\(name)\n") : fail("cannot open '\(name)': dataset does not exist")
            }
            guard let name = args.first, datasets[name] != nil else {
                return fail("cannot open '\(args.first ?? "")': dataset does not exist")
            }
            let names = datasets.keys.filter { key in
                key == name
                    || (depth.map { d in
                        key.hasPrefix(name + "/") && key.dropFirst(name.count + 1).split(separator: "/").count <= d
                    } ?? false)
            }.sorted()
            return ok(names.map { key in fields.map { value(key, $0) }.joined(separator: "\t") + "\n" }.joined())
        case "get":
            guard args.count == 5, args[0] == "-H", args[1] == "-o", args[2] == "value" else { return fail("usage", status: 2) }
            guard datasets[args[4]] != nil else { return fail("cannot open '\(args[4])': dataset does not exist") }
            return ok(value(args[4], args[3]) + "\n")
        case "set":
            guard args.count == 2, datasets[args[1]] != nil else {
                return fail("cannot open '\(args.last ?? "")': dataset does not exist")
            }
            let pair = args[0].split(separator: "=", maxSplits: 1).map(String.init)
            datasets[args[1]]?.properties[pair[0]] = pair.count == 2 ? pair[1] : ""
            return ok()
        case "destroy":
            let recursive = args.first == "-r"
            if recursive { args.removeFirst() }
            if args.count == 1, args[0].contains("@"), args[0].hasPrefix("\(pool)/data/") {
                guard snapshots[args[0]] != nil else { return fail("could not find any snapshots to destroy") }
                snapshots[args[0]] = nil
                return ok()
            }
            guard args.count == 1, let dataset = datasets[args[0]] else {
                return fail("cannot open '\(args.last ?? "")': dataset does not exist")
            }
            let name = args[0]
            let own = snapshots.filter { $0.value == name }.keys.sorted()
            if !own.isEmpty && !recursive {
                return fail(
                    "cannot destroy '\(name)': filesystem has children\nuse '-r' to destroy the following datasets:\n"
                        + own.joined(separator: "\n"))
            }
            let dependents = datasets.filter { entry in own.contains(entry.value.origin ?? "") }.keys.sorted()
            if !dependents.isEmpty {
                return fail(
                    "cannot destroy '\(own[0])': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\n"
                        + dependents.joined(separator: "\n"))
            }
            if datasets.keys.contains(where: { $0.hasPrefix(name + "/") }) {
                return fail("cannot destroy '\(name)': filesystem has children")
            }
            // zfs destroy unmounts first (cmd/zfs/zfs_main.c, destroy_callback); a root that a
            // running or dying jail holds fails with EBUSY, which libzfs reports as EZFS_BUSY
            // (lib/libzfs/libzfs_mount.c, unmount_one; libzfs_util.c: "pool or dataset is busy").
            if jails.values.contains(where: { $0.path == dataset.mountpoint }) || holds(dataset.mountpoint) {
                return fail("cannot unmount '\(dataset.mountpoint)': pool or dataset is busy")
            }
            try? FileIO.removeTree(dataset.mountpoint)
            datasets[name] = nil
            for snapshot in own { snapshots[snapshot] = nil }
            return ok()
        default:
            return fail("unrecognized command '\(verb)'", status: 2)
        }
    }

    /// A property as `zfs get -H -o value` prints it: `-` for a user property that is not set.
    func value(_ dataset: String, _ property: String) -> String {
        switch property {
        case "name": return dataset
        case "origin": return datasets[dataset]?.origin ?? "-"
        case "mountpoint": return datasets[dataset]?.mountpoint ?? "-"
        case "available": return String(available)
        default: return datasets[dataset]?.properties[property] ?? "-"
        }
    }
}

/// Copies a directory tree with cp -a, synchronously (the stand-in's clone).
enum HostProcessRunnerSync {
    static func copyTree(from: String, to: String) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", from, to]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
